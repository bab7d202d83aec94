import type { Config } from "../../core/src/config";
import type { JobStore } from "../../core/src/store/job-store";
import type { RunningAttempts } from "./running-attempts";

/**
 * Keeps the leases of the jobs this worker runs, and stops those it may no longer run: the
 * heartbeat extends every lease it still holds (RUNNING, same lock token) and aborts a job whose
 * lease was taken ("lease-lost": nothing of it is recorded) or whose cancel was requested; the
 * cancel poll and the cancel event catch cancel requests between heartbeats.
 */
export class LeaseKeeper {
  constructor(private readonly deps: { store: JobStore; running: RunningAttempts; config: Pick<Config, "LEASE_MS"> }) {}

  /**
   * Extends our leases; a job whose lease was taken is stopped without recording anything. The
   * answer concerns the attempts asked about, not whichever attempt of the same job runs here by
   * the time it comes back.
   */
  async heartbeat(): Promise<void> {
    const { store, running, config } = this.deps;
    const mine = new Map([...running.values()].filter((a) => !a.abortReason).map((a) => [a.job.id, a]));
    const held = await store.heartbeat([...mine.values()].map((a) => ({ id: a.job.id, token: a.job.lockToken })), config.LEASE_MS);
    const heldIds = new Set(held.map((h) => h.id));
    for (const [id, attempt] of mine) if (!heldIds.has(id)) attempt.abort("lease-lost");
    for (const h of held) if (h.cancelRequested) mine.get(h.id)?.abort("cancel");
  }

  /** Catches cancels that no in-process signal announced (requested through another process whose signal was missed). */
  async pollCancels(): Promise<void> {
    const { store, running } = this.deps;
    for (const id of await store.cancelRequested([...running.ids()])) running.get(id)?.abort("cancel");
  }

  /** "job:cancel-requested": a cancel requested here, or announced by another process. */
  readonly onCancelRequested = (jobId: string): void => {
    this.deps.running.get(jobId)?.abort("cancel");
  };
}
