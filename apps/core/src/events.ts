import { EventEmitter } from "node:events";
import type { AttemptEnd } from "./jobs/job";

/** What metrics and live views need to know about a job that was just stored. */
export interface JobSubmittedEvent {
  id: string;
  type: string;
}

/** A claim, as the dispatcher saw it: `queueMs` is from ready (run_at) to claimed. */
export interface JobClaimedEvent {
  id: string;
  type: string;
  attempt: number;
  queueMs: number;
}

/** One claim for one pool: the jobs it took (0: none was ready), or null when the database refused it. */
export interface ClaimEvent {
  pool: "cpu" | "io";
  claimed: number | null;
}

/**
 * The end of one attempt, once recorded: `end` says how it ended, `status` the state it left the
 * job in (PENDING after a "retry" or a "given-back" attempt). `errorName` is the recorded
 * error's name (e.g. TimeoutError), null when the attempt had none.
 */
export interface JobSettledEvent {
  id: string;
  type: string;
  status: "DONE" | "FAILED" | "CANCELLED" | "PENDING";
  end: AttemptEnd;
  attempt: number;
  runMs: number;
  errorName: string | null;
}

/**
 * Lifecycle signals inside one process. In the all-in-one mode the API and the dispatcher share
 * one bus, so a submission wakes the dispatcher at once and a cancel reaches it at once; across
 * processes the store's notifier carries the same signals (or the safety poll finds them).
 * The lifecycle facts (`jobs:submitted`, `claim`, `job:claimed`, `job:settled`, `jobs:reclaimed`)
 * stay in their process: they feed that process's metrics.
 */
export interface JobEventMap {
  /**
   * New PENDING work was committed; `dueAt` is the earliest run_at among it (ms since the epoch),
   * so a dispatcher can wake when it is due instead of at its next safety poll — whether it was
   * scheduled for later or merely looks early to a machine whose clock is a little behind.
   * `types`, when the announcer knows them, are the job types of that work: a dispatcher then
   * claims only for the pools that run them (a claim for a pool with nothing to do costs a
   * round trip to the database before the one that finds the job).
   */
  "jobs:available": [dueAt: number, types?: readonly string[]];
  /** A cancel was requested for a RUNNING job. */
  "job:cancel-requested": [jobId: string];
  /** A job changed state (claimed, settled, progress, cancelled, retried). */
  "job:updated": [jobId: string];
  /** Jobs were committed by this process's API (one event per commit). */
  "jobs:submitted": [jobs: readonly JobSubmittedEvent[]];
  "job:claimed": [event: JobClaimedEvent];
  /** The claim loop asked the database for work (one event per claim, whatever it found). */
  claim: [event: ClaimEvent];
  "job:settled": [event: JobSettledEvent];
  /** The reaper (or a restart) took back jobs whose worker stopped heartbeating. */
  "jobs:reclaimed": [count: number];
}

export class JobEvents extends EventEmitter<JobEventMap> {
  constructor() {
    super();
    // The dispatcher, the live feed, metrics and notifiers each listen, some to several events.
    this.setMaxListeners(0);
  }
}
