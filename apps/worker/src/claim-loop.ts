import { Mutex } from "async-mutex";
import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import type { HandlerKind } from "../../core/src/handlers/handler";
import type { Logger } from "../../core/src/logger";
import type { ClaimedJob, JobStore } from "../../core/src/store/job-store";
import { DueWakeups } from "./due-wakeups";
import type { RunningAttempts } from "./running-attempts";
import type { ThreadPools } from "./thread-pools";

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
/** The first retry after a claim failed; later ones back off up to POLL_INTERVAL_MS. */
const CLAIM_RETRY_MS = 100;
export const KINDS = ["cpu", "io"] as const;

export interface ClaimLoopDeps {
  store: JobStore;
  pools: ThreadPools;
  config: Pick<Config, "WORKER_ID" | "LEASE_MS" | "POLL_INTERVAL_MS">;
  log: Logger;
  events: JobEvents;
  running: RunningAttempts;
  /** The types this worker runs, by the pool that runs them. */
  typesByKind: Readonly<Record<HandlerKind, readonly string[]>>;
  kindOfType: ReadonlyMap<string, HandlerKind>;
  /** Starts an attempt of a job just claimed for this pool (attempt.ts). */
  launch: (kind: HandlerKind, job: ClaimedJob) => void;
}

/**
 * When and how much to claim: PENDING → RUNNING for as many ready jobs as there are free slots,
 * at most half a pool per claim, under a mutex so that capacity counts stay exact. It claims
 * when it is told there is work (announce: a submission, a retry, the notifier, a due time,
 * the reaper, the safety poll) and when a slot frees, unless the last claim for that pool found
 * its queue empty and nothing was announced since.
 */
export class ClaimLoop {
  private readonly mutex = new Mutex();
  private claiming = false;
  private fillScheduled = false;
  /** A claim round is waiting for the mutex: it will see every slot freed until it starts, so no second one queues. */
  private fillQueued = false;
  /**
   * While claims fail: since when, the one timer that retries (every wake-up in between is left
   * to it, so that an outage never runs more than one retry loop), its next delay, and the
   * failed tries.
   */
  private failing: { since: number; retry: NodeJS.Timeout | null; retryMs: number; tries: number } | null = null;
  /**
   * Per kind: how many announcements of new work this loop has heard, and the count at which
   * its last claim came back short (nothing more of its types was ready). While the two are
   * equal, a freed slot does not claim: new work always announces itself, and an empty claim
   * costs as much as a small one. Counting rather than a flag keeps an announcement that
   * arrives while a PostgreSQL claim is in flight from being overwritten by that claim's short
   * answer.
   */
  private readonly announced: Record<HandlerKind, number> = { cpu: 0, io: 0 };
  private readonly emptyAt: Record<HandlerKind, number> = { cpu: -1, io: -1 };
  private readonly dueWakeups = new DueWakeups(() => this.announce());

  constructor(private readonly deps: ClaimLoopDeps) {}

  start(): void {
    this.claiming = true;
    this.wake();
  }

  /** No claim starts from now on; resolves once the one in flight, if any, has launched its jobs. */
  stop(): Promise<void> {
    this.claiming = false;
    this.dueWakeups.stop();
    if (this.failing?.retry) clearTimeout(this.failing.retry);
    return this.mutex.waitForUnlock();
  }

  /** "jobs:available": claims what is ready now, and again when the rest of the announced work is due. */
  readonly onAvailable = (dueAt: number, types?: readonly string[]): void => {
    this.announce(types);
    this.dueWakeups.add(dueAt);
  };

  /**
   * There may be new work of these types (unknown: of any type): claim on the next round for
   * the pools that run them. Measured on an idle service, announcing both pools for every
   * submission put an empty cpu claim before the io claim that found the job: pickup p50
   * 1.9 ms, of which 1.0 ms between the INSERT's commit and the claim.
   */
  announce(types?: readonly string[]): void {
    const kinds = types === undefined ? KINDS : KINDS.filter((kind) => types.some((type) => this.deps.kindOfType.get(type) === kind));
    if (kinds.length === 0) return;
    for (const kind of kinds) this.announced[kind]++;
    this.wake();
  }

  /**
   * A freed slot claims again at once: the claim costs this thread a message, and slots freed
   * while a claim is in flight wait for it (the mutex), so they are claimed together anyway.
   */
  refill(kind: HandlerKind): void {
    if (!this.foundEmpty(kind)) this.wake();
  }

  private foundEmpty(kind: HandlerKind): boolean {
    return this.emptyAt[kind] === this.announced[kind];
  }

  /**
   * Schedules a claim round; calls until it runs share it. An idle worker claims as soon as
   * the code that woke it is done (a microtask: a submission is claimed before its 202 is even
   * written; pickup p50 2.0 → 0.9 ms, measured); a busy one on the next turn, so that slots
   * freed and jobs submitted meanwhile are claimed together.
   */
  readonly wake = (): void => {
    if (this.fillScheduled || !this.claiming || this.failing?.retry) return;
    this.fillScheduled = true;
    const claimRound = () => {
      this.fillScheduled = false;
      void this.fill();
    };
    if (this.deps.running.noneBusy) queueMicrotask(claimRound);
    else setImmediate(claimRound);
  };

  private async fill(): Promise<void> {
    if (this.fillQueued) return;
    this.fillQueued = true;
    const { store, pools, config, events, running, typesByKind } = this.deps;
    try {
      await this.mutex.runExclusive(async () => {
        this.fillQueued = false;
        let more = true;
        while (more && this.claiming) {
          more = false;
          for (const kind of KINDS) {
            const capacity = pools.capacity(kind);
            const limit = Math.min(capacity - running.busySlots(kind), largestClaim(capacity));
            if (limit <= 0 || typesByKind[kind].length === 0 || this.foundEmpty(kind)) continue;
            const announcedBefore = this.announced[kind];
            let jobs: ClaimedJob[];
            try {
              jobs = await store.claimBatch({ owner: config.WORKER_ID, types: typesByKind[kind], limit, leaseMs: config.LEASE_MS });
            } catch (error) {
              events.emit("claim", { pool: kind, claimed: null });
              throw error;
            }
            events.emit("claim", { pool: kind, claimed: jobs.length });
            if (this.failing) this.recovered();
            for (const job of jobs) this.deps.launch(kind, job);
            // A full batch means there may be more ready work than we took.
            if (jobs.length === limit) more = true;
            else this.emptyAt[kind] = announcedBefore;
          }
        }
      });
    } catch (error) {
      this.failed(error);
    }
  }

  /**
   * Usually a database busy for longer than its timeout, or down: try again soon rather than a
   * poll interval later, backing off, as each try may wait out the busy timeout, and logging the
   * change of state rather than each try.
   */
  private failed(error: unknown): void {
    if (!this.failing) {
      this.failing = { since: Date.now(), retry: null, retryMs: CLAIM_RETRY_MS, tries: 0 };
      this.deps.log.error("claims failing; retrying with backoff until one succeeds", { error, firstRetryInMs: CLAIM_RETRY_MS });
    }
    const failing = this.failing;
    failing.tries++;
    // A claim round that was already queued when the loop started fails too: it arms no second timer.
    if (failing.retry || !this.claiming) return;
    failing.retry = setTimeout(() => {
      failing.retry = null;
      this.wake();
    }, failing.retryMs);
    failing.retry.unref();
    failing.retryMs = Math.min(failing.retryMs * 2, Math.max(CLAIM_RETRY_MS, this.deps.config.POLL_INTERVAL_MS));
  }

  private recovered(): void {
    const { since, tries } = this.failing!;
    this.failing = null;
    this.deps.log.info("claims working again", { failingForMs: Date.now() - since, failedTries: tries });
  }
}
