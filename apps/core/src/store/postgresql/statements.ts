import type { Statements } from "../statements";

// Every SQL text run on PostgreSQL. Statements name their tables unqualified: each pooled
// connection's search_path is the URL's schema (database.ts, postgresConnection).

/**
 * PostgreSQL: the claim's inner SELECT takes row locks with SKIP LOCKED, so concurrent workers
 * on any number of machines each get different rows and never wait on each other.
 * Batch rows arrive as one jsonb array and are unpacked by jsonb_to_recordset, or for the two
 * hot statements (enqueue, settle) from positional arrays, named once in a subquery.
 *
 * Statements that update several RUNNING rows (settle, heartbeat, progress) lock them first in
 * id order (the `locked` CTE): a worker's settle and its own heartbeat run on different pooled
 * connections over overlapping rows, and in whatever order a join happens to visit them they
 * deadlock (seen in the 2 API + 3 worker test: several settle batches per run failed with 40P01,
 * and their jobs ran twice once their leases expired). The reaper skips rows
 * someone holds instead of waiting: their owner is alive and writing them.
 */
export const postgresqlStatements: Statements = {
  enqueue: `
    INSERT INTO jobs (id, type, status, payload, attempts, max_attempts, priority, timeout_ms,
                      run_at, created_at, updated_at, idempotency_key, request_hash)
    SELECT j.id, j.type, 'PENDING', j.payload, 0, j.max_attempts, j.priority, j.timeout_ms,
           j.run_at, j.created_at, j.created_at, j.idempotency_key, j.request_hash
    FROM (SELECT r->>0 AS id, r->>1 AS type, r->>2 AS payload, (r->>3)::int AS max_attempts,
                 (r->>4)::int AS priority, (r->>5)::int AS timeout_ms, (r->>6)::float8 AS run_at,
                 (r->>7)::float8 AS created_at, r->>8 AS idempotency_key, r->>9 AS request_hash
          FROM jsonb_array_elements($1::jsonb) AS r) AS j
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id`,

  // One index range of jobs_claim_idx per type (LATERAL), each locking only the rows it
  // returns and skipping rows other workers hold; the best `limit` of those are claimed.
  // The type count is not needed here: the types are unpacked from $5.
  claimBatch: () => `
    UPDATE jobs
    SET status = 'RUNNING', attempts = attempts + 1, started_at = $1, updated_at = $1,
        locked_by = $2, lock_token = $3, lease_expires_at = $4
    WHERE id IN (
      SELECT c.id
      FROM jsonb_array_elements_text($5::jsonb) AS t(type)
      CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM jobs
        WHERE status = 'PENDING' AND jobs.type = t.type AND run_at <= $1
        ORDER BY priority DESC, run_at
        LIMIT $6
        FOR UPDATE SKIP LOCKED) AS c
      ORDER BY c.priority DESC, c.run_at
      LIMIT $6)
    RETURNING id, type, payload, attempts, max_attempts, timeout_ms, error_history, priority,
              run_at, created_at, started_at`,

  settle: `
    WITH o AS (
      SELECT r->>0 AS id, r->>1 AS token, r->>2 AS status, r->>3 AS result, r->>4 AS error,
             r->>5 AS error_history, r->>6 AS progress, (r->>7)::int AS attempts_delta,
             (r->>8)::float8 AS run_at, (r->>9)::float8 AS finished_at
      FROM jsonb_array_elements($1::jsonb) AS r
    ), locked AS MATERIALIZED (
      SELECT jobs.id FROM jobs JOIN o ON jobs.id = o.id
      WHERE jobs.status = 'RUNNING' AND jobs.lock_token = o.token
      ORDER BY jobs.id
      FOR UPDATE OF jobs
    )
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
    FROM o
    WHERE jobs.id = o.id AND jobs.id IN (SELECT id FROM locked)
      AND jobs.status = 'RUNNING' AND jobs.lock_token = o.token
    RETURNING jobs.id`,

  heartbeat: `
    WITH h AS (
      SELECT * FROM jsonb_to_recordset($3::jsonb) AS h(id text, token text)
    ), locked AS MATERIALIZED (
      SELECT jobs.id FROM jobs JOIN h ON jobs.id = h.id
      WHERE jobs.status = 'RUNNING' AND jobs.lock_token = h.token
      ORDER BY jobs.id
      FOR UPDATE OF jobs
    )
    UPDATE jobs SET lease_expires_at = $1, updated_at = $2
    FROM h
    WHERE jobs.id = h.id AND jobs.id IN (SELECT id FROM locked)
      AND jobs.status = 'RUNNING' AND jobs.lock_token = h.token
    RETURNING jobs.id, jobs.cancel_requested`,

  reclaim: `
    UPDATE jobs
    SET status = CASE WHEN cancel_requested THEN 'CANCELLED'
                      WHEN attempts >= max_attempts THEN 'FAILED' ELSE 'PENDING' END,
        error = CASE WHEN cancel_requested THEN NULL ELSE $3 END,
        error_history = CASE WHEN cancel_requested THEN error_history
                             ELSE (error_history::jsonb || jsonb_build_array($3::jsonb))::text END,
        finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN $1 ELSE NULL END,
        run_at = $1, updated_at = $1,
        locked_by = NULL, lock_token = NULL, lease_expires_at = NULL
    WHERE id IN (
      SELECT id FROM jobs
      WHERE status = 'RUNNING' AND (lease_expires_at < $1 OR locked_by = $2::text)
      FOR UPDATE SKIP LOCKED)
    RETURNING id, status`,

  progress: `
    WITH o AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS o(id text, token text, progress text)
    ), locked AS MATERIALIZED (
      SELECT jobs.id FROM jobs JOIN o ON jobs.id = o.id
      WHERE jobs.status = 'RUNNING' AND jobs.lock_token = o.token
      ORDER BY jobs.id
      FOR UPDATE OF jobs
    )
    UPDATE jobs SET progress = o.progress, updated_at = $2
    FROM o
    WHERE jobs.id = o.id AND jobs.id IN (SELECT id FROM locked)
      AND jobs.status = 'RUNNING' AND jobs.lock_token = o.token`,

  // Rows someone holds (a retry by hand) are skipped, and the outer WHERE is checked again on
  // the row as it is when deleted: a job retried meanwhile is PENDING and stays.
  purgeFinished: `
    DELETE FROM jobs
    WHERE id IN (
      SELECT id FROM jobs
      WHERE finished_at < $1 AND status IN ('DONE', 'FAILED', 'CANCELLED')
      LIMIT $2
      FOR UPDATE SKIP LOCKED)
      AND finished_at < $1 AND status IN ('DONE', 'FAILED', 'CANCELLED')
    RETURNING id`,

  cancel: `
    UPDATE jobs
    SET status = CASE status WHEN 'PENDING' THEN 'CANCELLED' ELSE status END,
        error = CASE status WHEN 'PENDING' THEN NULL ELSE error END,
        finished_at = CASE status WHEN 'PENDING' THEN $2::double precision ELSE finished_at END,
        cancel_requested = CASE status WHEN 'RUNNING' THEN true ELSE cancel_requested END,
        updated_at = $2::double precision
    WHERE id = $1 AND status IN ('PENDING', 'RUNNING')
    RETURNING status`,

  requeue: `
    UPDATE jobs
    SET status = 'PENDING', attempts = 0, run_at = $2, finished_at = NULL, cancel_requested = false, updated_at = $2
    WHERE id = $1 AND status IN ('FAILED', 'CANCELLED')
    RETURNING *`,

  deleteFinished: `
    DELETE FROM jobs WHERE id = $1 AND status IN ('DONE', 'FAILED', 'CANCELLED')
    RETURNING id`,

  countByStatus: "SELECT status, CAST(sum(n) AS BIGINT) AS n FROM job_counts GROUP BY status",

  finishedSince: `
    SELECT floor((finished_at - $1) / $2)::int AS bucket, status, count(*)::int AS n,
           avg(finished_at - started_at) AS avg_run, max(finished_at - started_at) AS max_run,
           avg(started_at - run_at) AS avg_queue, max(started_at - run_at) AS max_queue
    FROM jobs WHERE finished_at >= $1
    GROUP BY 1, 2`,
};

/** The signals between processes (listen-notify.ts). */
export const postgresqlSignalStatements = {
  /** $1 channel, $2 JSON [message text]: one NOTIFY per message, delivered after the commit that sends them. */
  publish: "SELECT pg_notify($1, m) FROM jsonb_array_elements_text($2::jsonb) AS m",
  /** The channel is an identifier (signalChannel: taskq_ and hex digits), so it needs no escaping. */
  listen: (channel: string) => `LISTEN "${channel}"`,
};

/** Migration bookkeeping (postgresql/migrate.ts), in Prisma's own _prisma_migrations layout. */
export const postgresqlMigrationStatements = {
  createHistory: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`,
  /** $1 lock name. Per schema, so that test files (one schema each) migrate in parallel while processes sharing a schema take turns. */
  lock: "SELECT pg_advisory_lock(hashtextextended($1, 0))",
  /** $1 lock name. */
  unlock: "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
  /** `schema` already quoted (quoteIdent). */
  createSchema: (quotedSchema: string) => `CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`,
  /** → migration_name, checksum of those applied. */
  applied: `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  /** $1 id, $2 checksum, $3 name. */
  record: `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
             VALUES ($1, $2, now(), $3, now(), 1)`,
};
