import BetterSqlite3 from "better-sqlite3";
import type { Logger } from "../../logger";
import { nowMs } from "../../time";
import { type Database, sqlitePath } from "../database";
import type { SignalMessage, SignalTransport } from "../signal-transport";
import { sqliteSignalStatements as sql } from "./statements";

/** Signals older than this are deleted; a process that was stopped longer than this resyncs from the table of jobs anyway. */
const KEEP_MS = 60_000;
const PRUNE_EVERY_MS = 10_000;
/** How long after the last write by any connection the check stays at its fast interval. */
export const STAY_FAST_MS = 1_000;

/** The two intervals of the `PRAGMA data_version` check: while connections write, and once they have been quiet. */
export interface SqlitePoll {
  fastMs: number;
  idleMs: number;
}

/**
 * The wait before the next check. Fast while any connection (this process's own included)
 * has written in the last STAY_FAST_MS, so work keeps moving within `fastMs`; slower once the
 * file is quiet, so that an idle process is not woken 200 times a second. The first signal
 * after a quiet second therefore takes up to `idleMs` to arrive.
 */
export function nextPollMs(msSinceLastWrite: number, poll: SqlitePoll): number {
  return msSinceLastWrite < STAY_FAST_MS ? poll.fastMs : poll.idleMs;
}

/**
 * SQLite has no NOTIFY, so messages are rows of job_signals, appended by the store's writer
 * thread after the commits they announce. Each process watches the file with
 * `PRAGMA data_version` on a dedicated connection (a read of shared memory, a few µs; it
 * changes when any other connection commits) every `fastMs`, or `idleMs` once nothing has been
 * written for a second (nextPollMs), and only then reads the rows it has not seen.
 */
export class SqliteSignalTransport implements SignalTransport {
  // Each message is a write transaction competing for SQLite's one write lock with claims and
  // settles, so updates for observers are gathered longer than on PostgreSQL.
  readonly updateFlushMs = 100;
  private reader: BetterSqlite3.Database | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastSeq = 0;
  private lastVersion = -1;
  private lastPrune = 0;

  constructor(
    private readonly db: Database,
    private readonly poll: SqlitePoll,
    private readonly logger: Logger,
  ) {}

  async publish(messages: readonly SignalMessage[]): Promise<void> {
    // On the writer thread, prepared once, like the store's hot statements, and after the
    // commits they announce: a submission publishes a wake-up each time, and through Prisma each
    // cost a prepare and its query engine.
    const writer = this.db.writer;
    if (!writer) throw new Error("SQLite signals are written by the store's writer thread, which this database has not opened");
    const now = nowMs();
    await writer.run(sql.publish, [now, JSON.stringify(messages.map((m) => JSON.stringify(m)))]);
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await writer.run(sql.prune, [now - KEEP_MS]);
    }
  }

  async listen(onMessage: (message: SignalMessage) => void): Promise<void> {
    const reader = new BetterSqlite3(sqlitePath(this.db.url), { fileMustExist: true, readonly: true });
    this.reader = reader;
    const version = reader.prepare("PRAGMA data_version").pluck();
    const since = reader.prepare(sql.since);
    // Only what is sent from now on matters: older signals are about work this process will find by claiming.
    this.lastSeq = (reader.prepare(sql.lastSeq).pluck().get() as number) ?? 0;
    this.lastVersion = version.get() as number;
    let lastWriteAt = performance.now();
    const check = () => {
      if (this.reader !== reader) return;
      try {
        const v = version.get() as number;
        if (v !== this.lastVersion) {
          lastWriteAt = performance.now();
          const rows = since.all(this.lastSeq) as { seq: number; message: string }[];
          // Only once the rows are read: after a failed read the next check must try again even
          // if nothing else is ever committed.
          this.lastVersion = v;
          for (const row of rows) {
            this.lastSeq = row.seq;
            onMessage(JSON.parse(row.message) as SignalMessage);
          }
        }
      } catch (error) {
        // The next check tries again; a lost wake-up is caught by the dispatcher's safety poll.
        this.logger.warn("reading signals from other processes failed", { error });
      }
      this.timer = setTimeout(check, nextPollMs(performance.now() - lastWriteAt, this.poll));
      this.timer.unref();
    };
    this.timer = setTimeout(check, this.poll.fastMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.reader?.close();
    this.reader = null;
  }
}
