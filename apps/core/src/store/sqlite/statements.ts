import { type Statements, unionPerType } from "../statements";

// Every SQL text run on SQLite, but the connection settings (PRAGMAs) set where each connection is opened.

/**
 * SQLite has one writer at a time, so an UPDATE … WHERE id IN (SELECT … LIMIT n) claim is
 * atomic across every process sharing the file: no two workers can take the same row.
 * `->>` on json_each(value) reads the batch rows (SQLite ≥ 3.38, bundled by better-sqlite3).
 * Parameters are numbered $1… as in PostgreSQL; runDirect (run-direct.ts) rewrites them to
 * SQLite's positional `?`.
 */
export const sqliteStatements: Statements = {
  enqueue: `
    INSERT INTO jobs (id, type, status, payload, attempts, max_attempts, priority, timeout_ms,
                      run_at, created_at, updated_at, idempotency_key, request_hash)
    SELECT j.id, j.type, 'PENDING', j.payload, 0, j.max_attempts, j.priority, j.timeout_ms,
           j.run_at, j.created_at, j.created_at, j.idempotency_key, j.request_hash
    FROM (SELECT value->>0 AS id, value->>1 AS type, value->>2 AS payload, value->>3 AS max_attempts,
                 value->>4 AS priority, value->>5 AS timeout_ms, value->>6 AS run_at,
                 value->>7 AS created_at, value->>8 AS idempotency_key, value->>9 AS request_hash
          FROM json_each($1)) AS j
    WHERE true
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id`,

  // Each arm takes the best `limit` ready jobs of one type straight off jobs_claim_idx
  // (status, type, priority DESC, run_at); the outer query keeps the best `limit` of those.
  // The cost is types × limit index steps, whatever the backlog.
  claimBatch: (typeCount) => `
    UPDATE jobs
    SET status = 'RUNNING', attempts = attempts + 1, started_at = $1, updated_at = $1,
        locked_by = $2, lock_token = $3, lease_expires_at = $4
    WHERE id IN (
      SELECT id FROM (${unionPerType(typeCount, (i) => `
        SELECT * FROM (
          SELECT id, priority, run_at FROM jobs
          WHERE status = 'PENDING' AND type = $5->>${i} AND run_at <= $1
          ORDER BY priority DESC, run_at
          LIMIT $6)`)})
      ORDER BY priority DESC, run_at
      LIMIT $6)
    RETURNING id, type, payload, attempts, max_attempts, timeout_ms, error_history, priority,
              run_at, created_at, started_at`,

  // In settle, heartbeat and progress the unary + keeps SQLite off the status indexes: it
  // walks the batch and finds each row by primary key, instead of walking every RUNNING row
  // and re-reading the whole batch for each (a settle of 32: 5.9 ms -> 1.5 ms, measured).
  settle: `
    UPDATE jobs
    SET status = o.status,
        result = o.result,
        -- error is the last attempt's error while a retry waits and once FAILED; a job that ends
        -- DONE or CANCELLED shows none (its error_history keeps what happened).
        error = CASE WHEN o.status IN ('DONE', 'CANCELLED') THEN NULL ELSE coalesce(o.error, jobs.error) END,
        error_history = coalesce(o.error_history, jobs.error_history),
        progress = coalesce(o.progress, jobs.progress),
        attempts = jobs.attempts + o.attempts_delta,
        run_at = coalesce(o.run_at, jobs.run_at),
        finished_at = o.finished_at,
        updated_at = $2,
        locked_by = NULL, lock_token = NULL, lease_expires_at = NULL, cancel_requested = false
    FROM (SELECT value->>0 AS id, value->>1 AS token, value->>2 AS status, value->>3 AS result,
                 value->>4 AS error, value->>5 AS error_history, value->>6 AS progress,
                 value->>7 AS attempts_delta, value->>8 AS run_at, value->>9 AS finished_at
          FROM json_each($1)) AS o
    WHERE jobs.id = o.id AND +jobs.status = 'RUNNING' AND jobs.lock_token = o.token
    RETURNING jobs.id`,

  heartbeat: `
    UPDATE jobs SET lease_expires_at = $1, updated_at = $2
    FROM json_each($3) AS h
    WHERE jobs.id = h.value->>'id' AND +jobs.status = 'RUNNING' AND jobs.lock_token = h.value->>'token'
    RETURNING jobs.id, jobs.cancel_requested`,

  // A cancel that was requested wins; a job out of attempts fails; the rest run again.
  reclaim: `
    UPDATE jobs
    SET status = CASE WHEN cancel_requested THEN 'CANCELLED'
                      WHEN attempts >= max_attempts THEN 'FAILED' ELSE 'PENDING' END,
        error = CASE WHEN cancel_requested THEN NULL ELSE $3 END,
        error_history = CASE WHEN cancel_requested THEN error_history
                             ELSE json_insert(error_history, '$[#]', json($3)) END,
        finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN $1 ELSE NULL END,
        run_at = $1, updated_at = $1,
        locked_by = NULL, lock_token = NULL, lease_expires_at = NULL
    WHERE status = 'RUNNING' AND (lease_expires_at < $1 OR locked_by = $2)
    RETURNING id, status`,

  progress: `
    UPDATE jobs SET progress = o.value->>'progress', updated_at = $2
    FROM json_each($1) AS o
    WHERE jobs.id = o.value->>'id' AND +jobs.status = 'RUNNING' AND jobs.lock_token = o.value->>'token'`,

  // The unary + keeps SQLite on jobs_finished_idx (only the expired rows): on the status index
  // it read every finished job in the table, expired or not (92 ms at 900k DONE rows, with
  // nothing to delete).
  purgeFinished: `
    DELETE FROM jobs WHERE id IN (
      SELECT id FROM jobs
      WHERE finished_at < $1 AND +status IN ('DONE', 'FAILED', 'CANCELLED')
      LIMIT $2)
    RETURNING id`,

  cancel: `
    UPDATE jobs
    SET status = CASE status WHEN 'PENDING' THEN 'CANCELLED' ELSE status END,
        error = CASE status WHEN 'PENDING' THEN NULL ELSE error END,
        finished_at = CASE status WHEN 'PENDING' THEN $2 ELSE finished_at END,
        cancel_requested = CASE status WHEN 'RUNNING' THEN 1 ELSE cancel_requested END,
        updated_at = $2
    WHERE id = $1 AND status IN ('PENDING', 'RUNNING')
    RETURNING status`,

  requeue: `
    UPDATE jobs
    SET status = 'PENDING', attempts = 0, run_at = $2, finished_at = NULL, cancel_requested = 0, updated_at = $2
    WHERE id = $1 AND status IN ('FAILED', 'CANCELLED')
    RETURNING *`,

  deleteFinished: `
    DELETE FROM jobs WHERE id = $1 AND status IN ('DONE', 'FAILED', 'CANCELLED')
    RETURNING id`,

  countByStatus: "SELECT status, CAST(sum(n) AS BIGINT) AS n FROM job_counts GROUP BY status",

  finishedSince: `
    SELECT CAST((finished_at - $1) / $2 AS INTEGER) AS bucket, status, count(*) AS n,
           avg(finished_at - started_at) AS avg_run, max(finished_at - started_at) AS max_run,
           avg(started_at - run_at) AS avg_queue, max(started_at - run_at) AS max_queue
    FROM jobs WHERE finished_at >= $1
    GROUP BY bucket, status`,
};

/**
 * The signals between processes (signals.ts): rows of job_signals. `publish` and `prune` run on
 * the writer thread ($n); the reader's two run on its own read-only connection (`?` in order).
 */
export const sqliteSignalStatements = {
  /** $1 now, $2 JSON [message text]. */
  publish: "INSERT INTO job_signals (message, created_at) SELECT value, $1 FROM json_each($2)",
  /** $1 cutoff: signals older than this. */
  prune: "DELETE FROM job_signals WHERE created_at < $1",
  /** ? the last seq read → seq, message of the newer ones, in order. */
  since: "SELECT seq, message FROM job_signals WHERE seq > ? ORDER BY seq",
  /** → the last seq written (0 if none). */
  lastSeq: "SELECT coalesce(max(seq), 0) FROM job_signals",
};

/** Migration bookkeeping (sqlite/migrate.ts), in Prisma's own _prisma_migrations layout; `?` in order. */
export const sqliteMigrationStatements = {
  createHistory: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "checksum" TEXT NOT NULL,
  "finished_at" DATETIME,
  "migration_name" TEXT NOT NULL,
  "logs" TEXT,
  "rolled_back_at" DATETIME,
  "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
  "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0
)`,
  /** → migration_name, checksum of those applied. */
  applied: `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  /** ? id, ? checksum, ? name. */
  record: `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES (?, ?, current_timestamp, ?, current_timestamp, 1)`,
};
