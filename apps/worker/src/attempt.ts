import { setTimeout as delay } from "node:timers/promises";
import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import type { HandlerKind } from "../../core/src/handlers/handler";
import { type JobError, STATUS_AFTER } from "../../core/src/jobs/job";
import type { Logger } from "../../core/src/logger";
import type { ClaimedJob, JobStore, Settlement } from "../../core/src/store/job-store";
import { StorageUnavailableError } from "../../core/src/store/storage-error";
import { nowMs } from "../../core/src/time";
import { WriteBatcher } from "../../core/src/write-batcher";
import { type AbortReason, decideOutcome } from "./decide-outcome";
import type { RunningAttempts } from "./running-attempts";
import type { ThreadPools } from "./thread-pools";
import type { ThreadAnswer } from "./thread-protocol";

const ABORT_RESEND_MS = 50;
const SETTLE_BATCH = 1_000;

/** What every attempt of one dispatcher shares; built once, so an attempt costs one object. */
export interface AttemptContext {
  readonly pools: ThreadPools;
  readonly config: Pick<Config, "ABORT_GRACE_MS" | "LEASE_MS">;
  readonly events: JobEvents;
  /** The dispatcher's logger (with its workerId). */
  readonly log: Logger;
  readonly running: RunningAttempts;
  readonly settlements: SettlementWriter;
  /** Threads this dispatcher terminated: the other jobs they were running did nothing wrong. */
  readonly terminatedThreads: Set<number>;
  readonly retryDelayMs: (attempt: number) => number;
  /** An attempt's handler returned and freed a slot of this pool (the claim loop refills it). */
  readonly slotFreed: (kind: HandlerKind) => void;
  /** An attempt is over: its progress is no longer due (progress-forwarder.ts). */
  readonly attemptEnded: (attempt: Attempt) => void;
}

/** Group commit of attempt ends: one settle statement for those recorded together; resolves with whether the lease was still held. */
export type SettlementWriter = WriteBatcher<Settlement, boolean>;

export function settlementWriter(store: JobStore): SettlementWriter {
  return new WriteBatcher(async (batch) => {
    const held = await store.settle(batch);
    return batch.map((s) => held.has(s.id));
  }, SETTLE_BATCH);
}

/**
 * One attempt of a claimed job, read top to bottom in `run`: launch it on a thread with its
 * timeout, await the thread's answer, decide the job's next state (decide-outcome.ts) and
 * record it, guarded by the claim's lock token so that a worker whose lease was taken cannot
 * overwrite a newer state. Beside it, the way a handler is stopped early: `abort` asks it
 * through its signal, and `terminate` ends its thread if it has not returned after
 * ABORT_GRACE_MS.
 */
export class Attempt {
  /** Where its thread records itself (ThreadPools.threadRunning); terminating that thread is the last resort after ABORT_GRACE_MS. */
  readonly slot: number;
  abortReason: AbortReason | null = null;
  /** The last progress its handler reported, as JSON text. */
  progress: string | null = null;
  /** Its handler returned (or its thread was lost): there is nothing left to stop, and it holds no timer. */
  private handlerDone = false;
  // Its timers, all cleared when the handler returns; none is set after that.
  private timeoutTimer: NodeJS.Timeout | null = null;
  private abortResendTimer: NodeJS.Timeout | null = null;
  private terminateTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly kind: HandlerKind,
    readonly job: ClaimedJob,
    private readonly ctx: AttemptContext,
  ) {
    this.slot = ctx.pools.takeSlot(kind);
  }

  /** Never rejects: a failure to record is logged, and the job's lease then expires and the reaper retries it. */
  async run(): Promise<void> {
    const { job, ctx } = this;
    const answer = await this.launch();
    this.handlerReturned();
    const log = ctx.log.child({ jobId: job.id, type: job.type, attempt: job.attempts });
    try {
      const settlement = decideOutcome(this, answer, nowMs(), ctx.retryDelayMs);
      if (!settlement) {
        log.warn("lease lost while running; outcome discarded");
        return;
      }
      const held = await record(ctx, settlement, log);
      this.announce(settlement, held, log);
    } catch (error) {
      ctx.log.error("recording an outcome failed; the lease will expire and the job will be retried", { jobId: job.id, error });
    } finally {
      ctx.running.ended(this);
      ctx.attemptEnded(this);
    }
  }

  /** Hands the job to a thread of its pool, with its timeout; resolves with the thread's answer, or with why the thread was lost. */
  private async launch(): Promise<ThreadAnswer> {
    const { job, ctx } = this;
    ctx.running.started(this);
    this.timeoutTimer = setTimeout(() => this.abort("timeout"), job.timeoutMs);
    ctx.events.emit("job:updated", job.id);
    ctx.events.emit("job:claimed", { id: job.id, type: job.type, attempt: job.attempts, queueMs: job.startedAt - job.runAt });
    try {
      return await ctx.pools.run(this.kind, { jobId: job.id, type: job.type, payload: job.payload, attempt: job.attempts, slot: this.slot });
    } catch (error) {
      return { ok: false, error: this.threadLost(error) };
    }
  }

  private handlerReturned(): void {
    this.handlerDone = true;
    this.disarm();
    this.ctx.running.handlerReturned(this);
    this.ctx.pools.releaseSlot(this.kind, this.slot);
    this.ctx.slotFreed(this.kind);
  }

  /** Logs the recorded end and tells the bus: metrics, live views, and (for a PENDING job) the claim loops here and elsewhere. */
  private announce(settlement: Settlement, held: boolean, log: Logger): void {
    const { job, ctx } = this;
    const status = STATUS_AFTER[settlement.end];
    // The handler's stack goes to the log (and the row), never to a client unless EXPOSE_ERROR_STACK.
    const error = settlement.error ? (JSON.parse(settlement.error) as JobError) : null;
    if (!held) log.warn("lease lost before the outcome was recorded; outcome discarded", { status });
    else if (settlement.end === "done") log.info("job:done", { runMs: Math.round(nowMs() - job.startedAt) });
    else if (settlement.end === "given-back") log.info("job:given-back", { reason: this.abortReason ?? "thread terminated" });
    else if (settlement.end === "retry") log.warn("job:retry", { error, runAt: settlement.runAt });
    else log.warn(`job:${settlement.end}`, { error });
    if (held) ctx.events.emit("job:settled", { id: job.id, type: job.type, status, end: settlement.end, attempt: job.attempts, runMs: nowMs() - job.startedAt, errorName: error?.name ?? null });
    // A retry or a given-back job is work again, here or in another process, when its run_at comes.
    if (held && status === "PENDING") ctx.events.emit("jobs:available", settlement.runAt!, [job.type]);
    ctx.events.emit("job:updated", job.id);
  }

  /**
   * Asks the handler to stop; if it has not returned after ABORT_GRACE_MS its thread is
   * terminated. Nothing to do once the handler has returned: its end is being recorded (and
   * whether the lease still holds is for the record's lock token to say).
   */
  abort(reason: AbortReason): void {
    if (this.abortReason || this.handlerDone) return;
    this.abortReason = reason;
    const { pools, config } = this.ctx;
    const { id, attempts } = this.job;
    pools.requestAbort(id, attempts, reason);
    // A thread still booting has not opened its channel from the main thread yet and misses the
    // message, so it is repeated until the handler returns or the grace period ends.
    this.abortResendTimer = setInterval(() => pools.requestAbort(id, attempts, reason), ABORT_RESEND_MS);
    this.terminateTimer = setTimeout(() => this.terminate(), config.ABORT_GRACE_MS);
  }

  /** Ends a handler that ignored its abort by terminating its thread; until the thread is known, tries again later. */
  private terminate(): void {
    if (this.handlerDone) return;
    const { pools, terminatedThreads, log, config } = this.ctx;
    const threadId = pools.threadRunning(this.slot);
    if (threadId !== null && pools.terminateThread(threadId)) {
      terminatedThreads.add(threadId);
      log.warn("terminated a thread whose handler ignored its abort", { jobId: this.job.id, reason: this.abortReason, threadId });
      return;
    }
    this.terminateTimer = setTimeout(() => this.terminate(), config.ABORT_GRACE_MS);
  }

  /** Clears every timer of the attempt: when its handler returns, or when the dispatcher stops without waiting for it any longer. */
  disarm(): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.abortResendTimer) clearInterval(this.abortResendTimer);
    if (this.terminateTimer) clearTimeout(this.terminateTimer);
    this.timeoutTimer = this.abortResendTimer = this.terminateTimer = null;
  }

  /**
   * A rejection from the pool: our own hard abort, a thread we terminated to stop another job
   * sharing it (an io thread), or a thread that died (exit, uncaught error, out of memory).
   */
  private threadLost(error: unknown): JobError {
    const e = error instanceof Error ? error : new Error(String(error));
    if (this.abortReason) return { name: "AbortError", message: `Thread terminated after the handler ignored its ${this.abortReason} signal`, retryable: true };
    const threadId = this.ctx.pools.threadRunning(this.slot);
    if (threadId !== null && this.ctx.terminatedThreads.has(threadId)) {
      return { name: "ThreadTerminatedError", message: "Stopped because another job on its thread had to be terminated", retryable: true };
    }
    return {
      name: "ThreadCrashedError",
      message: `The worker thread running this job died: ${e.message}`,
      ...(e.stack !== undefined && { stack: e.stack }),
      retryable: true,
    };
  }
}

/**
 * Writes an attempt's end, retrying while the database refuses writes (SQLite busy, a
 * PostgreSQL failover) for up to LEASE_MS. The attempt stays among the running ones meanwhile,
 * so its lease is still extended; past that, the reaper owns the job and a late write would be
 * refused anyway. Storage gone for good in this process (a stopped SQLite writer) is not
 * retried: that would only hold up the service's stop.
 */
async function record(ctx: AttemptContext, settlement: Settlement, log: Logger): Promise<boolean> {
  const giveUpAt = Date.now() + ctx.config.LEASE_MS;
  for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 1_000)) {
    try {
      return await ctx.settlements.add(settlement);
    } catch (error) {
      if ((error instanceof StorageUnavailableError && error.lasting) || Date.now() + pauseMs > giveUpAt) throw error;
      log.warn("recording an outcome failed; retrying", { error, retryInMs: pauseMs });
      await delay(pauseMs);
    }
  }
}
