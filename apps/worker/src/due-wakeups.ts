import { nowMs } from "../../core/src/time";

/** Due times kept at most; later ones are left to the safety poll. */
const MAX_PENDING = 1_000;
/** The longest single timer: a far-off due time is reached in steps (setTimeout cannot wait past 24.8 days). */
const MAX_TIMER_MS = 60_000;

/**
 * Calls `wake` when announced work becomes due: a job submitted with a delay, a retry after its
 * backoff, or a job stamped on another machine whose clock is ahead of ours. Without it such
 * work waits for the next safety poll. Times are in ms since the epoch; one timer runs, for the
 * earliest.
 */
export class DueWakeups {
  /** Whole milliseconds, ascending, no duplicates. */
  private readonly due: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly wake: () => void) {}

  add(dueAt: number): void {
    // Work already due is claimed by the announcement that brought it; a whole-ms timer for it
    // would only wake an empty claim round.
    if (this.stopped || dueAt <= nowMs()) return;
    const at = Math.ceil(dueAt);
    const index = sortedIndex(this.due, at);
    if (this.due[index] === at || index >= MAX_PENDING) return;
    this.due.splice(index, 0, at);
    if (this.due.length > MAX_PENDING) this.due.pop();
    if (index === 0) this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.due.length = 0;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const first = this.due[0];
    if (first === undefined) return;
    // Timers count from the event loop's cached time, which can lag: fire() re-arms if early.
    this.timer = setTimeout(this.fire, Math.min(first - nowMs() + 1, MAX_TIMER_MS));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = null;
    const now = nowMs();
    let reached = 0;
    while (reached < this.due.length && this.due[reached]! <= now) reached++;
    this.due.splice(0, reached);
    if (reached > 0) this.wake();
    this.arm();
  };
}

function sortedIndex(values: readonly number[], value: number): number {
  let low = 0;
  let high = values.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (values[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
