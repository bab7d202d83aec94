import type { HandlerKind } from "../../core/src/handlers/handler";
import type { Attempt } from "./attempt";

/**
 * The attempts this dispatcher has claimed and not yet recorded, by job id, and how many
 * handlers of each pool are running now (an attempt frees its slot when its handler returns,
 * before its end is recorded).
 */
export class RunningAttempts {
  private readonly byId = new Map<string, Attempt>();
  private readonly busy: Record<HandlerKind, number> = { cpu: 0, io: 0 };
  private readonly idleWaiters: (() => void)[] = [];

  get size(): number {
    return this.byId.size;
  }

  /** Handlers of this pool running now (metrics: busy slots; the claim loop: free slots). */
  busySlots(kind: HandlerKind): number {
    return this.busy[kind];
  }

  /** No handler runs in either pool. */
  get noneBusy(): boolean {
    return this.busy.cpu + this.busy.io === 0;
  }

  get(jobId: string): Attempt | undefined {
    return this.byId.get(jobId);
  }

  ids(): IterableIterator<string> {
    return this.byId.keys();
  }

  values(): IterableIterator<Attempt> {
    return this.byId.values();
  }

  /** A launched attempt: its handler holds a slot of its pool. */
  started(attempt: Attempt): void {
    this.byId.set(attempt.job.id, attempt);
    this.busy[attempt.kind]++;
  }

  /** Its handler returned (or its thread was lost): the slot is free, the end not yet recorded. */
  handlerReturned(attempt: Attempt): void {
    this.busy[attempt.kind]--;
  }

  /** The attempt is over, its end recorded or given up on. */
  ended(attempt: Attempt): void {
    // Once a retry or a give-back is committed the job can be claimed again, by this process
    // too, before this line runs: the map may already hold the next attempt, which must stay.
    if (this.byId.get(attempt.job.id) === attempt) this.byId.delete(attempt.job.id);
    if (this.byId.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** True once no attempt is left, false if some still are after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.byId.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
