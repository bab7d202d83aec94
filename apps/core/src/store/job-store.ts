import { randomUUID } from "node:crypto";
import { type AttemptEnd, type JobRow, type JobStatus, STATUS_AFTER } from "../jobs/job";
import type { Logger } from "../logger";
import { nowMs } from "../time";
import type { Database } from "./database";
import { postgresqlStatements } from "./postgresql/statements";
import { toPositional } from "./sqlite/run-direct";
import { sqliteStatements } from "./sqlite/statements";
import type { Statements } from "./statements";
import { asStorageError, StorageUnavailableError } from "./storage-error";
import { StorageHealth } from "./storage-health";

/** A job ready to be stored: validated, defaults applied. */
export interface NewJob {
  id: string;
  type: string;
  payload: string;
  maxAttempts: number;
  priority: number;
  timeoutMs: number;
  runAt: number;
  createdAt: number;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/** A job as the claim hands it to the dispatcher. */
export interface ClaimedJob {
  id: string;
  type: string;
  payload: string;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  errorHistory: string;
  priority: number;
  runAt: number;
  createdAt: number;
  startedAt: number;
  lockToken: string;
}

/**
 * One attempt's end as it is written to its row (settle), guarded by the claim's lock token.
 * `end` sets the status (STATUS_AFTER) and whether the attempt counts: a "given-back" attempt
 * is not charged.
 */
export interface Settlement {
  id: string;
  token: string;
  end: AttemptEnd;
  result: string | null;
  error: string | null;
  errorHistory: string | null;
  progress: string | null;
  runAt: number | null;
  finishedAt: number | null;
}

export interface ListQuery {
  status?: JobStatus;
  type?: string;
  limit: number;
  cursor?: { createdAt: number; id: string };
}

export type CancelResult = { outcome: "cancelled" | "requested"; job: JobRow } | { outcome: "finished"; job: JobRow } | { outcome: "missing" };

/** Jobs that finished in one time bucket with one status, and how long they waited and ran. */
export interface FinishedBucket {
  /** 0 = the bucket starting at `sinceMs`. */
  bucket: number;
  status: string;
  count: number;
  avgRunMs: number | null;
  maxRunMs: number | null;
  avgQueueMs: number | null;
  maxQueueMs: number | null;
}

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
/** PostgreSQL answers a boolean, SQLite 0 or 1. */
const asBoolean = (v: unknown): boolean => v === true || Number(v) === 1;

/** A jobs row as raw SQL returns it (column names, SQLite's booleans as integers) in Prisma's shape. */
function jobRowOf(r: Record<string, unknown>): JobRow {
  return {
    id: String(r.id),
    type: String(r.type),
    status: String(r.status),
    payload: String(r.payload),
    result: textOrNull(r.result),
    error: textOrNull(r.error),
    errorHistory: String(r.error_history),
    progress: textOrNull(r.progress),
    attempts: num(r.attempts),
    maxAttempts: num(r.max_attempts),
    priority: num(r.priority),
    timeoutMs: num(r.timeout_ms),
    runAt: num(r.run_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    lockedBy: textOrNull(r.locked_by),
    lockToken: textOrNull(r.lock_token),
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    cancelRequested: asBoolean(r.cancel_requested),
    idempotencyKey: textOrNull(r.idempotency_key),
    requestHash: textOrNull(r.request_hash),
  };
}

/** Finished jobs deleted per retention statement: ~8 ms each on SQLite here. */
export const PURGE_BATCH = 1_000;

/**
 * Every read and write of the jobs table. Every state change is a single statement from the
 * dialect's Statements (on SQLite, run on the writer thread); reads go through Prisma's model
 * API, the same for both dialects. A database failure reaches callers as a
 * StorageUnavailableError, whatever the dialect.
 */
export class JobStore {
  private readonly sql: Statements;
  /** The claim's text by type count: built once, not on every claim (it is also the prepared-statement cache's key). */
  private readonly claimSql = new Map<number, string>();

  /** How the database has answered lately: outages logged once, readiness, failures per operation. */
  readonly health: StorageHealth;

  constructor(
    readonly db: Database,
    logger: Logger,
  ) {
    this.sql = db.dialect === "sqlite" ? sqliteStatements : postgresqlStatements;
    this.health = new StorageHealth(logger);
  }

  private get prisma() {
    return this.db.prisma;
  }

  /** Runs one of the dialect's statements: on SQLite on the writer thread, as a cached prepared statement. */
  private query<T>(operation: string, sql: string, ...args: unknown[]): Promise<T> {
    return this.guard(operation, this.db.writer ? this.db.writer.run<T>(sql, args) : this.prisma.$queryRawUnsafe<T>(sql, ...args));
  }

  /**
   * Runs one of the dialect's read statements through Prisma's connection, so that a long read
   * never holds up the SQLite writer thread (and so its statements).
   */
  private read<T>(operation: string, sql: string, ...args: unknown[]): Promise<T> {
    if (this.db.dialect !== "sqlite") return this.guard(operation, this.prisma.$queryRawUnsafe<T>(sql, ...args));
    const { text, order } = toPositional(sql);
    return this.guard(operation, this.prisma.$queryRawUnsafe<T>(text, ...order.map((i) => args[i - 1])));
  }

  /** Awaits one operation on the database: its failure becomes a StorageUnavailableError, and both ends count in `health`. */
  private async guard<T>(operation: string, query: PromiseLike<T>): Promise<T> {
    try {
      const result = await query;
      this.health.succeeded();
      return result;
    } catch (error) {
      const failure = asStorageError(error);
      if (failure instanceof StorageUnavailableError) this.health.failed(operation, failure);
      throw failure;
    }
  }

  /** Inserts the jobs in one statement. Returns the ids inserted; a job whose idempotency key already exists is skipped. */
  async enqueue(jobs: readonly NewJob[]): Promise<Set<string>> {
    if (jobs.length === 0) return new Set();
    // Positional, in the order Statements.enqueue documents.
    const rows = jobs.map((j) => [j.id, j.type, j.payload, j.maxAttempts, j.priority, j.timeoutMs, j.runAt, j.createdAt, j.idempotencyKey, j.requestHash]);
    const inserted = await this.query<{ id: string }[]>("enqueue", this.sql.enqueue, JSON.stringify(rows));
    return new Set(inserted.map((r) => r.id));
  }

  /** PENDING → RUNNING for up to `limit` ready jobs of the given types, best first, leased to `owner`. */
  async claimBatch(args: { owner: string; types: readonly string[]; limit: number; leaseMs: number }): Promise<ClaimedJob[]> {
    if (args.limit <= 0 || args.types.length === 0) return [];
    const now = nowMs();
    const token = randomUUID();
    const rows = await this.query<Record<string, unknown>[]>(
      "claimBatch",
      this.claimText(args.types.length),
      now,
      args.owner,
      token,
      now + args.leaseMs,
      JSON.stringify(args.types),
      args.limit,
    );
    return rows
      .map((r) => ({
        id: String(r.id),
        type: String(r.type),
        payload: String(r.payload),
        attempts: num(r.attempts),
        maxAttempts: num(r.max_attempts),
        timeoutMs: num(r.timeout_ms),
        errorHistory: String(r.error_history),
        priority: num(r.priority),
        runAt: num(r.run_at),
        createdAt: num(r.created_at),
        startedAt: num(r.started_at),
        lockToken: token,
      }))
      .sort((a, b) => b.priority - a.priority || a.runAt - b.runAt);
  }

  private claimText(typeCount: number): string {
    let text = this.claimSql.get(typeCount);
    if (text === undefined) this.claimSql.set(typeCount, (text = this.sql.claimBatch(typeCount)));
    return text;
  }

  /** Records the ends of attempts in one statement; returns the ids whose lease was still held (the others were not written). */
  async settle(settlements: readonly Settlement[]): Promise<Set<string>> {
    if (settlements.length === 0) return new Set();
    // Positional, in the order Statements.settle documents; a given-back attempt takes its charge back.
    const rows = settlements.map((o) => [o.id, o.token, STATUS_AFTER[o.end], o.result, o.error, o.errorHistory, o.progress, o.end === "given-back" ? -1 : 0, o.runAt, o.finishedAt]);
    const written = await this.query<{ id: string }[]>("settle", this.sql.settle, JSON.stringify(rows), nowMs());
    return new Set(written.map((r) => r.id));
  }

  /** Extends the leases of the given running jobs; returns those still held, with whether a cancel was requested. */
  async heartbeat(held: readonly { id: string; token: string }[], leaseMs: number): Promise<{ id: string; cancelRequested: boolean }[]> {
    if (held.length === 0) return [];
    const now = nowMs();
    const rows = await this.query<{ id: string; cancel_requested: unknown }[]>(
      "heartbeat",
      this.sql.heartbeat,
      now + leaseMs,
      now,
      JSON.stringify(held),
    );
    return rows.map((r) => ({ id: r.id, cancelRequested: asBoolean(r.cancel_requested) }));
  }

  /** Ids among `ids` whose cancel was requested (a cheap read for the safety poll). */
  async cancelRequested(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.guard(
      "cancelRequested",
      this.prisma.job.findMany({
        where: { id: { in: [...ids] }, status: "RUNNING", cancelRequested: true },
        select: { id: true },
      }),
    );
    return rows.map((r) => r.id);
  }

  /**
   * Takes back RUNNING jobs whose lease expired — and, with `restartingOwner`, every job that
   * owner held (a process restarting under the same WORKER_ID). Each lost attempt counts.
   */
  async reclaim(restartingOwner: string | null): Promise<{ id: string; status: string }[]> {
    const now = nowMs();
    const error = JSON.stringify({
      name: "WorkerLostError",
      message: "The worker running this job stopped before recording an outcome",
      retryable: true,
      at: new Date(now).toISOString(),
    });
    return this.query<{ id: string; status: string }[]>("reclaim", this.sql.reclaim, now, restartingOwner, error);
  }

  async saveProgress(updates: readonly { id: string; token: string; progress: string }[]): Promise<void> {
    if (updates.length === 0) return;
    await this.query("saveProgress", this.sql.progress, JSON.stringify(updates), nowMs());
  }

  async get(id: string): Promise<JobRow | null> {
    return this.guard("get", this.prisma.job.findUnique({ where: { id } }));
  }

  async getMany(ids: readonly string[]): Promise<JobRow[]> {
    return this.guard("getMany", this.prisma.job.findMany({ where: { id: { in: [...ids] } } }));
  }

  async findByIdempotencyKeys(keys: readonly string[]): Promise<JobRow[]> {
    return this.guard("findByIdempotencyKeys", this.prisma.job.findMany({ where: { idempotencyKey: { in: [...keys] } } }));
  }

  /** Newest first, keyset-paginated on (created_at, id) so pages stay stable while jobs arrive. */
  async list(q: ListQuery): Promise<JobRow[]> {
    return this.guard(
      "list",
      this.prisma.job.findMany({
        where: {
          status: q.status,
          type: q.type,
          ...(q.cursor && {
            OR: [{ createdAt: { lt: q.cursor.createdAt } }, { createdAt: q.cursor.createdAt, id: { lt: q.cursor.id } }],
          }),
        },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: q.limit,
      }),
    );
  }

  /** PENDING → CANCELLED at once; RUNNING → cancel requested (the owner aborts the handler). */
  async cancel(id: string): Promise<CancelResult> {
    const [written] = await this.query<{ status: string }[]>("cancel", this.sql.cancel, id, nowMs());
    const job = await this.get(id);
    if (!job) return { outcome: "missing" };
    if (!written) return { outcome: "finished", job };
    return { outcome: written.status === "CANCELLED" ? "cancelled" : "requested", job };
  }

  /**
   * Requeues a finished job by hand (POST /jobs/:id/retry): FAILED or CANCELLED → PENDING with a
   * fresh set of attempts. Null if the job is in another state. The row comes back as the
   * statement wrote it: a worker may claim the job a moment later, and the caller must see the
   * state the requeue produced.
   */
  async requeue(id: string): Promise<JobRow | null> {
    const [row] = await this.query<Record<string, unknown>[]>("requeue", this.sql.requeue, id, nowMs());
    return row ? jobRowOf(row) : null;
  }

  /** Deletes a finished job; false if it is not finished (or not there). */
  async delete(id: string): Promise<boolean> {
    return (await this.query<unknown[]>("delete", this.sql.deleteFinished, id)).length === 1;
  }

  /**
   * Retention: removes finished jobs that finished before `cutoff`, PURGE_BATCH at a time,
   * yielding to the event loop between batches. In one statement, a minute's worth of expired
   * jobs held SQLite's write lock and this thread for as long as it took (290 ms for 100k rows).
   */
  async purgeFinished(cutoff: number): Promise<number> {
    let purged = 0;
    for (;;) {
      const deleted = (await this.query<unknown[]>("purgeFinished", this.sql.purgeFinished, cutoff, PURGE_BATCH)).length;
      purged += deleted;
      if (deleted < PURGE_BATCH) return purged;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** From the counters the database's triggers keep (job_counts): a few rows, whatever the size of the table. */
  async countByStatus(): Promise<Record<JobStatus, number>> {
    const rows = await this.read<{ status: string; n: unknown }[]>("countByStatus", this.sql.countByStatus);
    const counts = { PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0, CANCELLED: 0 } as Record<JobStatus, number>;
    for (const r of rows) counts[r.status as JobStatus] = Number(r.n);
    return counts;
  }

  /** Per-bucket throughput and latency of jobs finished since `sinceMs`, for /stats and the dashboard. */
  async finishedSince(sinceMs: number, bucketMs: number): Promise<FinishedBucket[]> {
    const rows = await this.read<Record<string, unknown>[]>("finishedSince", this.sql.finishedSince, sinceMs, bucketMs);
    return rows.map((r) => ({
      bucket: Number(r.bucket),
      status: String(r.status),
      count: Number(r.n),
      avgRunMs: numOrNull(r.avg_run),
      maxRunMs: numOrNull(r.max_run),
      avgQueueMs: numOrNull(r.avg_queue),
      maxQueueMs: numOrNull(r.max_queue),
    }));
  }

  /**
   * Readiness: the database answers a query (on SQLite so does the writer thread), and no
   * storage outage is on (StorageHealth: a full disk still answers this probe).
   */
  async ping(): Promise<void> {
    await this.guard("ping", Promise.all([this.prisma.$queryRawUnsafe("SELECT 1"), this.db.writer?.run("SELECT 1", [])]));
    this.health.assertHealthy();
  }

  async close(): Promise<void> {
    this.health.close();
    try {
      await this.prisma.$disconnect();
    } finally {
      await this.db.writer?.close();
    }
  }
}
