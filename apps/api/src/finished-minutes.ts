import type { FinishedBucket, JobStore } from "../../core/src/store/job-store";

export const MINUTE_MS = 60_000;
/**
 * An outcome is written within moments of its finished_at, so a minute that ended this long ago
 * no longer changes. (An outcome written later, after a database outage longer than this, is
 * missed by the minutes already kept.)
 */
const SETTLED_AFTER_MS = 2 * MINUTE_MS;
/** GET /stats looks back an hour at most. */
const KEEP_MS = 61 * MINUTE_MS;

/**
 * The per-minute figures of finished jobs behind GET /stats. Minutes that have settled are kept
 * here, so a refresh reads only the last few minutes of finished jobs instead of the whole
 * window: a 15-minute window at 1,000 jobs/s is 900k rows, 350 ms of SQLite on the event loop,
 * on every dashboard refresh.
 */
export class FinishedMinutes {
  private readonly settled = new Map<number, FinishedBucket[]>();

  constructor(private readonly store: JobStore) {}

  /** Status rows by minute start, for every minute from `sinceMs` (a minute start) to the one holding `nowMs`. */
  async since(sinceMs: number, nowMs: number): Promise<Map<number, FinishedBucket[]>> {
    const settledBefore = Math.floor((nowMs - SETTLED_AFTER_MS) / MINUTE_MS) * MINUTE_MS;
    let readFrom = sinceMs;
    while (readFrom < settledBefore && this.settled.has(readFrom)) readFrom += MINUTE_MS;

    const fresh = await this.store.finishedSince(readFrom, MINUTE_MS);
    const byMinute = new Map<number, FinishedBucket[]>();
    for (let minute = sinceMs; minute <= nowMs; minute += MINUTE_MS) byMinute.set(minute, minute < readFrom ? this.settled.get(minute)! : []);
    // A finished_at ahead of this clock (another host's) belongs to no minute of the window yet.
    for (const row of fresh) byMinute.get(readFrom + row.bucket * MINUTE_MS)?.push(row);

    for (let minute = readFrom; minute < settledBefore; minute += MINUTE_MS) this.settled.set(minute, byMinute.get(minute)!);
    for (const minute of this.settled.keys()) if (minute < nowMs - KEEP_MS) this.settled.delete(minute);
    return byMinute;
  }
}
