/**
 * The statements on the jobs, one per state change and one per read that the model API cannot
 * express, written once per dialect in sqlite/statements.ts and postgresql/statements.ts (each
 * of which also holds that dialect's other SQL: signals, migrations). Batch statements take their rows as one JSON array
 * parameter, so each batch is one statement with a fixed text whatever its size. The two on
 * the hot path, enqueue and settle, take each row as an array in the order given below rather
 * than an object: SQLite then finds each field by position instead of by key (an INSERT of
 * 1,000 rows 8.2 → 5.6 µs a row, a settle of 128 ~11 → ~9 µs a row, measured).
 */
export interface Statements {
  /** $1 JSON [[id, type, payload, max_attempts, priority, timeout_ms, run_at, created_at, idempotency_key, request_hash]] → RETURNING id (rows skipped by an idempotency-key conflict are not returned). */
  enqueue: string;
  /**
   * $1 now, $2 owner, $3 lock token, $4 lease expiry, $5 JSON [types] of `typeCount` types, $6 limit
   * → RETURNING the claimed jobs. Each type is read as its own index range, so the text may depend on the count.
   */
  claimBatch(typeCount: number): string;
  /** $1 JSON [[id, token, status, result, error, error_history, progress, attempts_delta, run_at, finished_at]], $2 now → RETURNING id of rows still held by that token. attempts_delta is -1 for an attempt given back uncharged, else 0. */
  settle: string;
  /** $1 lease expiry, $2 now, $3 JSON [{id, token}] of the jobs a worker runs → RETURNING id, cancel_requested of those it still holds. */
  heartbeat: string;
  /** $1 now, $2 owner restarting (or NULL), $3 error JSON for a lost worker → RETURNING id, status. */
  reclaim: string;
  /** $1 JSON [{id, token, progress}], $2 now: progress of running jobs, guarded by lock token. */
  progress: string;
  /** $1 cutoff, $2 limit: deletes up to `limit` finished jobs that finished before the cutoff → RETURNING id. */
  purgeFinished: string;
  /**
   * $1 id, $2 now: PENDING → CANCELLED at once, RUNNING → cancel requested (its owner aborts the
   * handler) → RETURNING status as written; no row if the job is finished or not there. One
   * statement whose SET reads the row as it was, so there is no window between telling PENDING
   * from RUNNING and changing it.
   */
  cancel: string;
  /** $1 id, $2 now: FAILED or CANCELLED → PENDING with a fresh set of attempts (a requeue by hand) → RETURNING * as written; no row otherwise. */
  requeue: string;
  /** $1 id: deletes the job if it is finished → RETURNING id. */
  deleteFinished: string;
  /** Jobs by status from the counters the triggers keep (job_counts): a few rows, whatever the size of the table → status, n. */
  countByStatus: string;
  /**
   * $1 since, $2 bucket length (ms): jobs finished since $1 grouped by bucket (0 = the bucket
   * starting at $1) and status, in one range scan of jobs_finished_idx. Run time is
   * finished_at − started_at of the last attempt; queue time is started_at − run_at (from ready to
   * claimed); a job cancelled before it ran has no started_at and counts only in n.
   * → bucket, status, n, avg_run, max_run, avg_queue, max_queue.
   */
  finishedSince: string;
}

/** `SELECT … UNION ALL SELECT …`, one arm per type index 0 … typeCount-1. */
export function unionPerType(typeCount: number, arm: (index: number) => string): string {
  if (!Number.isInteger(typeCount) || typeCount < 1) throw new RangeError(`typeCount must be a positive integer, got ${typeCount}`);
  return Array.from({ length: typeCount }, (_, i) => arm(i)).join("\n      UNION ALL");
}
