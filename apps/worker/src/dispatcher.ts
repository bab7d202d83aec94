import { setTimeout as delay } from "node:timers/promises";
import { Mutex } from "async-mutex";
import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import type { HandlerKind } from "../../core/src/handlers/handler";
import type { HandlerRegistry } from "../../core/src/handlers/registry";
import type { JobError } from "../../core/src/jobs/job";
import type { Logger } from "../../core/src/logger";
import type { ClaimedJob, JobStore, Outcome } from "../../core/src/store/job-store";
import { SqliteWriterStoppedError } from "../../core/src/store/sqlite-writer";
import { nowMs } from "../../core/src/time";
import { WriteBatcher } from "../../core/src/write-batcher";
import { DueWakeups } from "./due-wakeups";
import { backoffMs, ERROR_HISTORY_LENGTH } from "./retry-policy";
import type { ThreadPools } from "./thread-pools";
import type { ProgressMessage, ThreadOutcome } from "./thread-protocol";

/** Why the dispatcher stopped a handler before it returned. */
type AbortReason = "timeout" | "cancel" | "shutdown" | "lease-lost";

interface RunningJob {
  job: ClaimedJob;
  kind: HandlerKind;
  /** Where its thread records itself (ThreadPools.threadRunning); terminating that thread is the last resort after ABORT_GRACE_MS. */
  slot: number;
  reason: AbortReason | null;
  timers: NodeJS.Timeout[];
  progress: string | null;
}

export interface DispatcherDeps {
  store: JobStore;
  pools: ThreadPools;
  registry: HandlerRegistry;
  config: Config;
  logger: Logger;
  events: JobEvents;
}

const OUTCOME_BATCH = 1_000;
const PROGRESS_FLUSH_MS = 250;
const ABORT_RESEND_MS = 50;
/**
 * A claim takes at most this share of a pool's slots, so that a full pool is refilled in
 * staggered batches: one batch's claim runs (on SQLite's writer thread, or on the PostgreSQL
 * server) while this thread records the outcomes of the other. In one batch per pool, the two
 * took turns, each idle half the time (drain 17–18k → 20–21k jobs/s with 256 io slots, measured).
 */
const CLAIM_SHARE = 0.5;

/** The most rows one claim takes for a pool of this capacity. */
export function largestClaim(capacity: number): number {
  return Math.ceil(capacity * CLAIM_SHARE);
}
/** The first retry of a claim that failed; later ones back off up to POLL_INTERVAL_MS. */
const CLAIM_RETRY_MS = 100;
const KINDS = ["cpu", "io"] as const;

/**
 * The claim → run → record loop. One per process; the only writer of job rows on the worker
 * side. `fill` claims ready jobs for the free slots, at most half a pool per claim (under a
 * mutex, so capacity counts stay exact), `launch` hands each to a thread with its timeout, and
 * `finish` decides the outcome and records it through a group-commit batcher, guarded by the
 * claim's lock token so a worker whose lease was taken cannot overwrite a newer outcome.
 */
export class Dispatcher {
  private readonly mutex = new Mutex();
  private readonly running = new Map<string, RunningJob>();
  private readonly inFlight: Record<HandlerKind, number> = { cpu: 0, io: 0 };
  private readonly typesByKind: Record<HandlerKind, string[]>;
  /** The pool that runs each type this dispatcher claims. */
  private readonly kindOfType = new Map<string, HandlerKind>();
  private readonly outcomes: WriteBatcher<Outcome, boolean>;
  private readonly progressDue = new Map<string, string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  /** Threads this dispatcher terminated: the other jobs they were running did nothing wrong. */
  private readonly terminatedThreads = new Set<number>();
  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private fillScheduled = false;
  /** A claim round is waiting for the mutex: it will see every slot freed until it starts, so no second one queues. */
  private fillQueued = false;
  private claimRetryMs = CLAIM_RETRY_MS;
  /**
   * Per kind: how many announcements of new work this dispatcher has heard, and the count at
   * which its last claim came back short (nothing more of its types was ready). While the two
   * are equal, a freed slot does not claim: new work always announces itself (a submission, a
   * retry, the notifier, a due time, the reaper, the safety poll), and an empty claim costs as
   * much as a small one. Counting rather than a flag keeps an announcement that arrives while a
   * PostgreSQL claim is in flight from being overwritten by that claim's short answer.
   */
  private readonly announced: Record<HandlerKind, number> = { cpu: 0, io: 0 };
  private readonly emptyAt: Record<HandlerKind, number> = { cpu: -1, io: -1 };
  private readonly dueWakeups = new DueWakeups(() => this.announce());
  private readonly log: Logger;

  constructor(private readonly deps: DispatcherDeps) {
    const allowed = deps.config.WORKER_JOB_TYPES;
    this.typesByKind = { cpu: [], io: [] };
    for (const type of deps.registry.types) {
      const handler = deps.registry.get(type)!;
      if (!allowed || allowed.includes(handler.type) || allowed.includes(type)) {
        this.typesByKind[handler.kind].push(type);
        this.kindOfType.set(type, handler.kind);
      }
    }
    this.outcomes = new WriteBatcher(async (batch) => {
      const held = await deps.store.settle(batch);
      return batch.map((o) => held.has(o.id));
    }, OUTCOME_BATCH);
    this.log = deps.logger.child({ workerId: deps.config.WORKER_ID });
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Jobs of this kind running now (metrics: busy slots). */
  busySlots(kind: HandlerKind): number {
    return this.inFlight[kind];
  }

  /** Takes back what a previous run under this WORKER_ID left RUNNING, then starts claiming. */
  async start(): Promise<void> {
    if (this.state !== "new") return;
    const { config, events } = this.deps;
    const recovered = await this.deps.store.reclaim(config.WORKER_ID);
    if (recovered.length > 0) this.log.warn("recovered jobs left RUNNING by an earlier run", { count: recovered.length });
    if (recovered.length > 0) events.emit("jobs:reclaimed", recovered.length);
    this.state = "running";
    events.on("jobs:available", this.onAvailable);
    events.on("job:cancel-requested", this.onCancelRequested);
    // Leases are kept through the shutdown grace period too: a job still draining is not lost.
    this.every(config.HEARTBEAT_MS, () => this.heartbeat(), { whileStopping: true });
    this.every(config.REAPER_INTERVAL_MS, () => this.reapExpiredLeases());
    this.every(config.POLL_INTERVAL_MS, () => this.safetyPoll());
    this.every(PROGRESS_FLUSH_MS, () => this.flushProgress());
    this.log.info("dispatcher started", {
      cpuSlots: this.deps.pools.capacity("cpu"),
      ioSlots: this.deps.pools.capacity("io"),
      types: [...this.typesByKind.cpu, ...this.typesByKind.io],
    });
    this.wake();
  }

  /** Claims what is ready now, and again when the rest of the announced work is due. */
  private readonly onAvailable = (dueAt: number, types?: readonly string[]): void => {
    this.announce(types);
    this.dueWakeups.add(dueAt);
  };

  /**
   * There may be new work of these types (unknown: of any type): claim on the next round for
   * the pools that run them. Measured on an idle service, announcing both pools for every
   * submission put an empty cpu claim before the io claim that found the job: pickup p50
   * 1.9 ms, of which 1.0 ms between the INSERT's commit and the claim.
   */
  private announce(types?: readonly string[]): void {
    const kinds = types === undefined ? KINDS : KINDS.filter((kind) => types.some((type) => this.kindOfType.get(type) === kind));
    if (kinds.length === 0) return;
    for (const kind of kinds) this.announced[kind]++;
    this.wake();
  }

  private foundEmpty(kind: HandlerKind): boolean {
    return this.emptyAt[kind] === this.announced[kind];
  }

  /**
   * Schedules a claim round; calls until it runs share it. An idle dispatcher claims as soon as
   * the code that woke it is done (a microtask: a submission is claimed before its 202 is even
   * written; pickup p50 2.0 → 0.9 ms, measured); a busy one on the next turn, so that slots
   * freed and jobs submitted meanwhile are claimed together.
   */
  readonly wake = (): void => {
    if (this.fillScheduled || this.state !== "running") return;
    this.fillScheduled = true;
    const claimRound = () => {
      this.fillScheduled = false;
      void this.fill();
    };
    if (this.inFlight.cpu + this.inFlight.io === 0) queueMicrotask(claimRound);
    else setImmediate(claimRound);
  };

  /**
   * A freed slot claims again at once: the claim costs this thread a message, and slots freed
   * while a claim is in flight wait for it (the mutex), so they are claimed together anyway.
   */
  private refill(kind: HandlerKind): void {
    if (!this.foundEmpty(kind)) this.wake();
  }

  private async fill(): Promise<void> {
    if (this.fillQueued) return;
    this.fillQueued = true;
    try {
      await this.mutex.runExclusive(async () => {
        this.fillQueued = false;
        let more = true;
        while (more && this.state === "running") {
          more = false;
          for (const kind of KINDS) {
            const capacity = this.deps.pools.capacity(kind);
            const limit = Math.min(capacity - this.inFlight[kind], largestClaim(capacity));
            if (limit <= 0 || this.typesByKind[kind].length === 0 || this.foundEmpty(kind)) continue;
            const announcedBefore = this.announced[kind];
            const jobs = await this.deps.store.claimBatch({
              owner: this.deps.config.WORKER_ID,
              types: this.typesByKind[kind],
              limit,
              leaseMs: this.deps.config.LEASE_MS,
            });
            for (const job of jobs) this.launch(kind, job);
            // A full batch means there may be more ready work than we took.
            if (jobs.length === limit) more = true;
            else this.emptyAt[kind] = announcedBefore;
          }
        }
      });
      this.claimRetryMs = CLAIM_RETRY_MS;
    } catch (error) {
      // Usually a database busy for longer than its timeout: try again soon rather than a poll
      // interval later, backing off, as each try may wait out the busy timeout.
      this.log.error("claim failed; retrying", { error, retryInMs: this.claimRetryMs });
      setTimeout(this.wake, this.claimRetryMs).unref();
      this.claimRetryMs = Math.min(this.claimRetryMs * 2, Math.max(CLAIM_RETRY_MS, this.deps.config.POLL_INTERVAL_MS));
    }
  }

  private launch(kind: HandlerKind, job: ClaimedJob): void {
    const run: RunningJob = { job, kind, slot: this.deps.pools.takeSlot(kind), reason: null, timers: [], progress: null };
    this.running.set(job.id, run);
    this.inFlight[kind]++;
    run.timers.push(setTimeout(() => this.abort(job.id, "timeout"), job.timeoutMs));
    this.deps.events.emit("job:updated", job.id);
    this.deps.events.emit("job:claimed", { id: job.id, type: job.type, attempt: job.attempts, queueMs: job.startedAt - job.runAt });
    this.deps.pools
      .run(kind, { jobId: job.id, type: job.type, payload: job.payload, attempt: job.attempts, slot: run.slot })
      .catch((error: unknown): ThreadOutcome => ({ ok: false, error: threadLost(error, run, this.deps.pools.threadRunning(run.slot), this.terminatedThreads) }))
      .then((outcome) => this.finish(run, outcome))
      .catch((error: unknown) => this.log.error("recording an outcome failed; the lease will expire and the job will be retried", { jobId: job.id, error }));
  }

  /** Asks the handler to stop; if it has not returned after ABORT_GRACE_MS its thread is terminated. */
  private abort(jobId: string, reason: AbortReason): void {
    const run = this.running.get(jobId);
    if (!run || run.reason) return;
    run.reason = reason;
    this.deps.pools.requestAbort(jobId, run.job.attempts, reason);
    // A thread still booting has not opened its control channel yet and misses the message,
    // so it is repeated until the handler returns or the grace period ends.
    run.timers.push(setInterval(() => this.deps.pools.requestAbort(jobId, run.job.attempts, reason), ABORT_RESEND_MS));
    run.timers.push(setTimeout(() => this.terminate(run), this.deps.config.ABORT_GRACE_MS));
  }

  /** Ends a handler that ignored its abort by terminating its thread; until the thread is known, tries again later. */
  private terminate(run: RunningJob): void {
    if (this.running.get(run.job.id) !== run) return;
    const threadId = this.deps.pools.threadRunning(run.slot);
    if (threadId !== null && this.deps.pools.terminateThread(threadId)) {
      this.terminatedThreads.add(threadId);
      this.log.warn("terminated a thread whose handler ignored its abort", { jobId: run.job.id, reason: run.reason, threadId });
      return;
    }
    run.timers.push(setTimeout(() => this.terminate(run), this.deps.config.ABORT_GRACE_MS));
  }

  private async finish(run: RunningJob, outcome: ThreadOutcome): Promise<void> {
    for (const t of run.timers) clearTimeout(t);
    this.inFlight[run.kind]--;
    this.deps.pools.releaseSlot(run.kind, run.slot);
    this.refill(run.kind);
    const { job } = run;
    const log = this.log.child({ jobId: job.id, type: job.type, attempt: job.attempts });
    try {
      const decided = this.decide(run, outcome);
      if (!decided) {
        log.warn("lease lost while running; outcome discarded");
        return;
      }
      const held = await this.record(decided, log);
      // The handler's stack goes to the log (and the row), never to a client unless EXPOSE_ERROR_STACK.
      const error = decided.error ? (JSON.parse(decided.error) as JobError) : null;
      if (!held) log.warn("lease lost before the outcome was recorded; outcome discarded", { status: decided.status });
      else if (decided.status === "DONE") log.info("job:done", { runMs: Math.round(nowMs() - job.startedAt) });
      else if (decided.status === "PENDING" && decided.attemptsDelta < 0) log.info("job:given-back", { reason: run.reason ?? "thread terminated" });
      else if (decided.status === "PENDING") log.warn("job:retry", { error, runAt: decided.runAt });
      else log.warn(`job:${decided.status.toLowerCase()}`, { error });
      if (held) this.deps.events.emit("job:settled", { id: job.id, type: job.type, status: decided.status, attempt: job.attempts, runMs: nowMs() - job.startedAt, errorName: error?.name ?? null });
      // A retry or a given-back job is work again, here or in another process, when its run_at comes.
      if (held && decided.status === "PENDING") this.deps.events.emit("jobs:available", decided.runAt!, [job.type]);
      this.deps.events.emit("job:updated", job.id);
    } finally {
      // Once a retry or a give-back is committed the job can be claimed again, by this process
      // too, before this line runs: the map may already hold the next attempt, which must stay.
      if (this.running.get(job.id) === run) {
        this.running.delete(job.id);
        this.progressDue.delete(job.id);
      }
      if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /**
   * Writes an outcome, retrying while the database refuses writes (SQLite busy, a PostgreSQL
   * failover) for up to LEASE_MS. The job stays in `running` meanwhile, so its lease is still
   * extended; past that, the reaper owns the job and a late write would be refused anyway.
   * A stopped SQLite writer is final: retrying it would only hold up the service's stop.
   */
  private async record(outcome: Outcome, log: Logger): Promise<boolean> {
    const giveUpAt = Date.now() + this.deps.config.LEASE_MS;
    for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 1_000)) {
      try {
        return await this.outcomes.add(outcome);
      } catch (error) {
        if (error instanceof SqliteWriterStoppedError || Date.now() + pauseMs > giveUpAt) throw error;
        log.warn("recording an outcome failed; retrying", { error, retryInMs: pauseMs });
        await delay(pauseMs);
      }
    }
  }

  /** Turns a thread's answer into the row's next state; null when the job is no longer ours. */
  private decide(run: RunningJob, outcome: ThreadOutcome): Outcome | null {
    const { job, reason } = run;
    const now = nowMs();
    const base = { id: job.id, token: job.lockToken, result: null, error: null, errorHistory: null, progress: this.progressDue.get(job.id) ?? run.progress, attemptsDelta: 0, runAt: null, finishedAt: null };
    if (reason === "lease-lost") return null;
    // A handler that finished its work before the abort reached it did the work: record it.
    if (outcome.ok) return { ...base, status: "DONE", result: outcome.result, progress: finishedProgress(base.progress), finishedAt: now };
    if (reason === "shutdown" || (!reason && isBystander(outcome.error))) return { ...base, status: "PENDING", attemptsDelta: -1, runAt: now };
    if (reason === "cancel") return { ...base, status: "CANCELLED", finishedAt: now };

    const error: JobError =
      reason === "timeout"
        ? { name: "TimeoutError", message: `Job exceeded its timeout of ${job.timeoutMs} ms`, retryable: true }
        : outcome.error;
    error.attempt = job.attempts;
    error.at = new Date(now).toISOString();
    const history = [...(JSON.parse(job.errorHistory) as JobError[]), error].slice(-ERROR_HISTORY_LENGTH);
    const failed = { ...base, error: JSON.stringify(error), errorHistory: JSON.stringify(history) };
    if (error.retryable !== false && job.attempts < job.maxAttempts) {
      return { ...failed, status: "PENDING", runAt: now + backoffMs(job.attempts, this.deps.config) };
    }
    return { ...failed, status: "FAILED", finishedAt: now };
  }

  readonly onCancelRequested = (jobId: string): void => this.abort(jobId, "cancel");

  /** A job's progress, from its thread: remembered and written every PROGRESS_FLUSH_MS, not per report. */
  readonly onProgress = (message: ProgressMessage): void => {
    const run = this.running.get(message.jobId);
    if (!run) return;
    run.progress = JSON.stringify(message.progress);
    this.progressDue.set(message.jobId, run.progress);
  };

  private async flushProgress(): Promise<void> {
    if (this.progressDue.size === 0) return;
    const updates = [...this.progressDue].flatMap(([id, progress]) => {
      const run = this.running.get(id);
      return run ? [{ id, token: run.job.lockToken, progress }] : [];
    });
    this.progressDue.clear();
    await this.deps.store.saveProgress(updates);
    for (const u of updates) this.deps.events.emit("job:updated", u.id);
  }

  /** Extends our leases; a job whose lease was taken is stopped without recording anything. */
  private async heartbeat(): Promise<void> {
    const mine = [...this.running.values()].filter((r) => !r.reason).map((r) => ({ id: r.job.id, token: r.job.lockToken }));
    const held = await this.deps.store.heartbeat(mine, this.deps.config.LEASE_MS);
    const heldIds = new Set(held.map((h) => h.id));
    for (const { id } of mine) if (!heldIds.has(id) && this.running.has(id)) this.abort(id, "lease-lost");
    for (const h of held) if (h.cancelRequested) this.abort(h.id, "cancel");
  }

  private async reapExpiredLeases(): Promise<void> {
    const reclaimed = await this.deps.store.reclaim(null);
    if (reclaimed.length === 0) return;
    this.log.warn("reclaimed jobs whose worker stopped heartbeating", { count: reclaimed.length, ids: reclaimed.slice(0, 20).map((r) => r.id) });
    this.deps.events.emit("jobs:reclaimed", reclaimed.length);
    for (const r of reclaimed) this.deps.events.emit("job:updated", r.id);
    // Through the bus, so that workers in other processes wake too.
    this.deps.events.emit("jobs:available", nowMs());
  }

  /** Catches work and cancels that no in-process signal announced (other processes, scheduled run_at). */
  private async safetyPoll(): Promise<void> {
    this.announce();
    for (const id of await this.deps.store.cancelRequested([...this.running.keys()])) this.abort(id, "cancel");
  }

  private every(ms: number, task: () => Promise<void>, options: { whileStopping?: boolean } = {}): void {
    let busy = false;
    const timer = setInterval(() => {
      const active = this.state === "running" || (options.whileStopping === true && this.state === "stopping");
      if (busy || !active) return;
      busy = true;
      task()
        .catch((error: unknown) => this.log.error("periodic task failed", { task: task.name, error }))
        .finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /**
   * Stops claiming, lets running jobs finish for up to SHUTDOWN_GRACE_MS, then gives the rest
   * back (PENDING, attempt not charged) and waits for every outcome to be written.
   */
  async stop(): Promise<void> {
    if (this.state !== "running") {
      this.state = "stopped";
      return;
    }
    this.state = "stopping";
    this.deps.events.off("jobs:available", this.onAvailable);
    this.dueWakeups.stop();
    this.deps.events.off("job:cancel-requested", this.onCancelRequested);
    await this.mutex.waitForUnlock();
    const givingBack = !(await this.whenIdle(this.deps.config.SHUTDOWN_GRACE_MS));
    if (givingBack) {
      this.log.warn("grace period over; giving unfinished jobs back", { count: this.running.size });
      for (const id of this.running.keys()) this.abort(id, "shutdown");
      await this.whenIdle(this.deps.config.ABORT_GRACE_MS + 5_000);
    }
    // finish() announced each given-back job, so workers in other processes take it at once.
    await this.outcomes.drain();
    for (const t of this.timers) clearInterval(t);
    this.state = "stopped";
    this.log.info("dispatcher stopped");
  }

  private whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.running.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/**
 * A rejection from the pool: our own hard abort, a thread we terminated to stop another job
 * sharing it (an io thread), or a thread that died (exit, uncaught error, out of memory).
 */
function threadLost(error: unknown, run: RunningJob, threadId: number | null, terminatedThreads: ReadonlySet<number>): JobError {
  const e = error instanceof Error ? error : new Error(String(error));
  if (run.reason) return { name: "AbortError", message: `Thread terminated after the handler ignored its ${run.reason} signal`, retryable: true };
  if (threadId !== null && terminatedThreads.has(threadId)) {
    return { name: "ThreadTerminatedError", message: "Stopped because another job on its thread had to be terminated", retryable: true };
  }
  return {
    name: "ThreadCrashedError",
    message: `The worker thread running this job died: ${e.message}`,
    ...(e.stack !== undefined && { stack: e.stack }),
    retryable: true,
  };
}

/** The job did nothing wrong: its thread was terminated to stop another job, so the attempt is given back uncharged. */
function isBystander(error: JobError): boolean {
  return error.name === "ThreadTerminatedError";
}

/**
 * A DONE job's progress: a number becomes 100 (the last report may be a round short, or arrive
 * after the result); an object, the handler's own account, stays as it was last reported.
 */
function finishedProgress(progress: string | null): string | null {
  return progress !== null && typeof JSON.parse(progress) === "number" ? "100" : progress;
}
