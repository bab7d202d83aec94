import type { Logger } from "../logger";
import { StorageUnavailableError } from "./storage-error";

/** An outage ends once nothing has failed for this long and something has worked since. */
export const OUTAGE_QUIET_MS = 5_000;
/** While an outage lasts, how often the failures since the last report are counted in the log. */
const OUTAGE_REPORT_MS = 10_000;
const OUTAGE_TICK_MS = 1_000;

/**
 * How the database has answered this process's store lately. An outage starts at the first
 * failure and ends once nothing has failed for OUTAGE_QUIET_MS while something worked: the log
 * says so once at each end, and counts the failures in between every OUTAGE_REPORT_MS, rather
 * than a line per refused request or statement (hundreds a second under load). Readiness fails
 * while an outage lasts, so that a process that cannot commit is taken out of rotation even
 * when the database still answers its probe (SQLite on a full disk reads fine), and comes back
 * by itself. Failures are also counted per store operation, for /metrics.
 */
export class StorageHealth {
  private outage: { since: number; lastFailure: number; lastSuccess: number; failures: number; reported: number; lastReport: number; error: StorageUnavailableError } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly failuresByOperation = new Map<string, number>();

  constructor(private readonly logger: Logger) {}

  /** A store operation the database did not carry out. */
  failed(operation: string, error: StorageUnavailableError): void {
    this.failuresByOperation.set(operation, (this.failuresByOperation.get(operation) ?? 0) + 1);
    const now = Date.now();
    if (this.outage) {
      this.outage.lastFailure = now;
      this.outage.failures++;
      this.outage.error = error;
      return;
    }
    this.outage = { since: now, lastFailure: now, lastSuccess: -Infinity, failures: 1, reported: 1, lastReport: now, error };
    this.logger.error("storage failing: the database refused or could not be reached; counting failures until it works again", { operation, reason: error.reason, error });
    this.timer = setInterval(() => this.tick(), OUTAGE_TICK_MS);
    this.timer.unref();
  }

  /** A store operation the database carried out (a field test unless an outage is on). */
  succeeded(): void {
    if (this.outage) this.outage.lastSuccess = Date.now();
  }

  /** Throws while an outage lasts (readiness). */
  assertHealthy(): void {
    const outage = this.outage;
    if (!outage) return;
    throw new StorageUnavailableError(`storage failing for ${Math.round((Date.now() - outage.since) / 1000)} s (${outage.failures} failed operations, the last ${Date.now() - outage.lastFailure} ms ago)`, {
      cause: outage.error,
      reason: outage.error.reason,
    });
  }

  /** Failed store operations since start, by operation (JobStore's method names). */
  failures(): ReadonlyMap<string, number> {
    return this.failuresByOperation;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    const outage = this.outage!;
    const now = Date.now();
    if (now - outage.lastFailure >= OUTAGE_QUIET_MS && outage.lastSuccess > outage.lastFailure) {
      this.logger.info("storage working again", { failingForMs: outage.lastFailure - outage.since, failures: outage.failures });
      this.outage = null;
      this.close();
      return;
    }
    if (now - outage.lastReport >= OUTAGE_REPORT_MS && outage.failures > outage.reported) {
      this.logger.warn("storage still failing", { sinceMs: now - outage.since, failures: outage.failures - outage.reported, inLastMs: now - outage.lastReport, reason: outage.error.reason });
      outage.reported = outage.failures;
      outage.lastReport = now;
    }
  }
}
