import { toIso } from "../time";

/**
 * A job's status. Each change is one statement of the dialect's Statements (store/statements.ts),
 * guarded by the status it expects (and, for a RUNNING job, by the claim's lock token); the file
 * that makes each change is named below.
 *
 * - PENDING: waiting to be claimed once its run_at is due. A new job, a job waiting for its retry
 *   after a failed attempt (run_at = the end of its backoff), a job given back uncharged (at
 *   shutdown, or because its thread was terminated to stop another job), a job whose worker was
 *   lost, and a job requeued by hand are all PENDING: `attempts` and `error_history` tell them
 *   apart. In: enqueue (api/src/job-submitter.ts); settle as "retry" or "given-back"
 *   (worker/src/attempt.ts); reclaim (worker/src/reaper.ts); requeue (api/src/jobs.routes.ts,
 *   POST /jobs/:id/retry). Out: claimBatch → RUNNING (worker/src/claim-loop.ts); cancel →
 *   CANCELLED (api/src/jobs.routes.ts).
 * - RUNNING: claimed by one worker (locked_by, lock_token), which holds a lease until
 *   lease_expires_at and extends it by heartbeat (worker/src/lease-keeper.ts). A cancel request
 *   only sets cancel_requested; the owner then aborts the handler. Out: settle → DONE, FAILED,
 *   CANCELLED or PENDING (worker/src/attempt.ts, decided by worker/src/decide-outcome.ts);
 *   reclaim once the lease ran out, or when its worker restarts → PENDING, or FAILED when no
 *   attempt is left, or CANCELLED when a cancel was requested (worker/src/reaper.ts).
 * - DONE: the handler returned; `result` holds what it returned. Final.
 * - FAILED: the last attempt failed and none is left, or its error was not retryable. Final
 *   until requeued by hand.
 * - CANCELLED: cancelled while PENDING, or its handler stopped after a cancel request. Final
 *   until requeued by hand.
 *
 * DONE, FAILED and CANCELLED jobs are deleted RETENTION_MS after finished_at (worker/src/retention.ts).
 */
export const JOB_STATUSES = ["PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ["DONE", "FAILED", "CANCELLED"];

/**
 * How one attempt ended, as worker/src/decide-outcome.ts decides it: "retry" is a failed attempt
 * that will run again after its backoff (charged), "given-back" an attempt stopped through no
 * fault of its own (not charged). Both leave the job PENDING.
 */
export type AttemptEnd = "done" | "retry" | "given-back" | "cancelled" | "failed";

/** The status each end of an attempt leaves the job in. */
export const STATUS_AFTER: Readonly<Record<AttemptEnd, Exclude<JobStatus, "RUNNING">>> = {
  done: "DONE",
  retry: "PENDING",
  "given-back": "PENDING",
  cancelled: "CANCELLED",
  failed: "FAILED",
};

export function isFinished(status: string): boolean {
  return (FINISHED_STATUSES as readonly string[]).includes(status);
}

/** What a failed attempt leaves behind. `stack` is stored, and shown only when EXPOSE_ERROR_STACK is on. */
export interface JobError {
  name: string;
  message: string;
  stack?: string;
  retryable?: boolean;
  attempt?: number;
  at?: string;
}

/** A row of the jobs table as the store returns it (JSON columns still as text). */
export interface JobRow {
  id: string;
  type: string;
  status: string;
  payload: string;
  result: string | null;
  error: string | null;
  errorHistory: string;
  progress: string | null;
  attempts: number;
  maxAttempts: number;
  priority: number;
  timeoutMs: number;
  runAt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  lockedBy: string | null;
  lockToken: string | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/** The job as clients see it: snake_case like the original API, instants in ISO 8601 UTC. */
export interface JobResource {
  id: string;
  type: string;
  status: JobStatus;
  payload: unknown;
  result: unknown;
  error: JobError | null;
  error_history: JobError[];
  progress: unknown;
  attempts: number;
  max_attempts: number;
  priority: number;
  timeout_ms: number;
  cancel_requested: boolean;
  run_at: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

export function toJobResource(row: JobRow, options: { exposeStack: boolean }): JobResource {
  const strip = (e: JobError): JobError => {
    if (options.exposeStack) return e;
    const { stack: _stack, ...rest } = e;
    return rest;
  };
  const error = parse(row.error) as JobError | null;
  return {
    id: row.id,
    type: row.type,
    status: row.status as JobStatus,
    payload: parse(row.payload),
    result: parse(row.result),
    error: error && strip(error),
    error_history: (parse(row.errorHistory) as JobError[]).map(strip),
    progress: parse(row.progress),
    attempts: row.attempts,
    max_attempts: row.maxAttempts,
    priority: row.priority,
    timeout_ms: row.timeoutMs,
    cancel_requested: row.cancelRequested,
    run_at: toIso(row.runAt)!,
    created_at: toIso(row.createdAt)!,
    started_at: toIso(row.startedAt),
    finished_at: toIso(row.finishedAt),
    updated_at: toIso(row.updatedAt)!,
  };
}
