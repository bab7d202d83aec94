import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import type { HandlerKind } from "../../core/src/handlers/handler";
import type { HandlerRegistry } from "../../core/src/handlers/registry";
import type { Logger } from "../../core/src/logger";
import type { ClaimedJob, JobStore } from "../../core/src/store/job-store";
import { Attempt, type AttemptContext, settlementWriter } from "./attempt";
import { ClaimLoop } from "./claim-loop";
import { LeaseKeeper } from "./lease-keeper";
import { PROGRESS_FLUSH_MS, ProgressForwarder } from "./progress-forwarder";
import { Reaper } from "./reaper";
import { backoffMs } from "./retry-policy";
import { RunningAttempts } from "./running-attempts";
import type { ThreadPools } from "./thread-pools";
import type { ProgressMessage } from "./thread-protocol";

export interface DispatcherDeps {
  store: JobStore;
  pools: ThreadPools;
  registry: HandlerRegistry;
  config: Config;
  logger: Logger;
  events: JobEvents;
}

/**
 * The worker side of a job's life, one per process and the only writer of job rows there. It
 * wires the parts together and starts and stops them: the claim loop (claim-loop.ts) launches
 * each claimed job as an attempt (attempt.ts), which records its own end; the lease keeper
 * (lease-keeper.ts), the reaper (reaper.ts) and the progress forwarder (progress-forwarder.ts)
 * run on the timers set in `start`.
 */
export class Dispatcher {
  private readonly running = new RunningAttempts();
  private readonly typesByKind: Readonly<Record<HandlerKind, readonly string[]>>;
  private readonly attempts: AttemptContext;
  private readonly claimLoop: ClaimLoop;
  private readonly leaseKeeper: LeaseKeeper;
  private readonly reaper: Reaper;
  private readonly progress: ProgressForwarder;
  private readonly timers: NodeJS.Timeout[] = [];
  private state: "new" | "running" | "stopping" | "stopped" = "new";
  private readonly log: Logger;

  constructor(private readonly deps: DispatcherDeps) {
    const { store, pools, config, events } = deps;
    const running = this.running;
    this.log = deps.logger.child({ workerId: config.WORKER_ID });
    const log = this.log;
    const { typesByKind, kindOfType } = typesRunHere(deps.registry, config.WORKER_JOB_TYPES);
    this.typesByKind = typesByKind;
    this.claimLoop = new ClaimLoop({ store, pools, config, log, events, running, typesByKind, kindOfType, launch: this.launch });
    this.leaseKeeper = new LeaseKeeper({ store, running, config });
    this.reaper = new Reaper({ store, events, log, config });
    this.progress = new ProgressForwarder({ store, running, events });
    this.attempts = {
      pools,
      config,
      events,
      log,
      running,
      settlements: settlementWriter(store),
      terminatedThreads: new Set(),
      retryDelayMs: (attempt) => backoffMs(attempt, config),
      slotFreed: (kind) => this.claimLoop.refill(kind),
      attemptEnded: (attempt) => this.progress.forget(attempt),
    };
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Jobs of this kind running now (metrics: busy slots). */
  busySlots(kind: HandlerKind): number {
    return this.running.busySlots(kind);
  }

  /** Progress reported by a thread (ThreadPools calls this). */
  readonly onProgress = (message: ProgressMessage): void => this.progress.onProgress(message);

  /** Takes back what a previous run under this WORKER_ID left RUNNING, then starts claiming. */
  async start(): Promise<void> {
    if (this.state !== "new") return;
    const { config, events, pools } = this.deps;
    await this.reaper.recoverOwn();
    this.state = "running";
    events.on("jobs:available", this.claimLoop.onAvailable);
    events.on("job:cancel-requested", this.leaseKeeper.onCancelRequested);
    // Leases are kept through the shutdown grace period too: a job still draining is not lost.
    this.every("heartbeat", config.HEARTBEAT_MS, () => this.leaseKeeper.heartbeat(), { whileStopping: true });
    this.every("reaper", config.REAPER_INTERVAL_MS, () => this.reaper.reapExpired());
    // Catches work and cancels that no in-process signal announced (other processes, scheduled run_at).
    this.every("safety poll", config.POLL_INTERVAL_MS, () => {
      this.claimLoop.announce();
      return this.leaseKeeper.pollCancels();
    });
    this.every("progress", PROGRESS_FLUSH_MS, () => this.progress.flush());
    this.log.info("dispatcher started", {
      cpuSlots: pools.capacity("cpu"),
      ioSlots: pools.capacity("io"),
      types: [...this.typesByKind.cpu, ...this.typesByKind.io],
    });
    this.claimLoop.start();
  }

  private readonly launch = (kind: HandlerKind, job: ClaimedJob): void => {
    void new Attempt(kind, job, this.attempts).run();
  };

  private every(name: string, ms: number, task: () => Promise<void>, options: { whileStopping?: boolean } = {}): void {
    let busy = false;
    const timer = setInterval(() => {
      const active = this.state === "running" || (options.whileStopping === true && this.state === "stopping");
      if (busy || !active) return;
      busy = true;
      task()
        .catch((error: unknown) => this.log.error("periodic task failed", { task: name, error }))
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
    const { events, config } = this.deps;
    this.state = "stopping";
    const claimsStopped = this.claimLoop.stop();
    events.off("jobs:available", this.claimLoop.onAvailable);
    events.off("job:cancel-requested", this.leaseKeeper.onCancelRequested);
    await claimsStopped;
    const givingBack = !(await this.running.whenIdle(config.SHUTDOWN_GRACE_MS));
    if (givingBack) {
      this.log.warn("grace period over; giving unfinished jobs back", { count: this.running.size });
      for (const attempt of this.running.values()) attempt.abort("shutdown");
      await this.running.whenIdle(config.ABORT_GRACE_MS + 5_000);
    }
    // An attempt that outlived both waits (a thread that would not end, a write still refused)
    // keeps no timer past the stop: the threads its aborts would reach are about to close.
    for (const attempt of this.running.values()) attempt.disarm();
    // Each given-back job was announced, so workers in other processes take it at once.
    await this.attempts.settlements.drain();
    for (const t of this.timers) clearInterval(t);
    this.state = "stopped";
    this.log.info("dispatcher stopped");
  }
}

/** The handler types this worker runs (all, or those WORKER_JOB_TYPES names), by the pool that runs them. */
function typesRunHere(registry: HandlerRegistry, allowed: readonly string[] | undefined): { typesByKind: Record<HandlerKind, string[]>; kindOfType: Map<string, HandlerKind> } {
  const typesByKind: Record<HandlerKind, string[]> = { cpu: [], io: [] };
  const kindOfType = new Map<string, HandlerKind>();
  for (const type of registry.types) {
    const handler = registry.get(type)!;
    if (!allowed || allowed.includes(handler.type) || allowed.includes(type)) {
      typesByKind[handler.kind].push(type);
      kindOfType.set(type, handler.kind);
    }
  }
  return { typesByKind, kindOfType };
}
