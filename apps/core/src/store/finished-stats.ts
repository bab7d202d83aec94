import type { Database } from "./database";

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

/*
 * One grouped range scan over jobs_finished_idx (finished_at >= since). Run time is
 * finished_at − started_at of the last attempt; queue time is started_at − run_at (from ready
 * to claimed). Jobs cancelled before they ran have no started_at and count only in `count`.
 * SQLite: `?` parameters in order ($1 twice); PostgreSQL: numbered, and the table qualified by
 * the URL's schema, so the query does not depend on the connection's search_path.
 */
const SQLITE = `
  SELECT CAST((finished_at - ?) / ? AS INTEGER) AS bucket, status, count(*) AS n,
         avg(finished_at - started_at) AS avg_run, max(finished_at - started_at) AS max_run,
         avg(started_at - run_at) AS avg_queue, max(started_at - run_at) AS max_queue
  FROM jobs WHERE finished_at >= ?
  GROUP BY bucket, status`;
const postgresql = (schema: string) => `
  SELECT floor((finished_at - $1) / $2)::int AS bucket, status, count(*)::int AS n,
         avg(finished_at - started_at) AS avg_run, max(finished_at - started_at) AS max_run,
         avg(started_at - run_at) AS avg_queue, max(started_at - run_at) AS max_queue
  FROM "${schema.replace(/"/g, '""')}".jobs WHERE finished_at >= $1
  GROUP BY 1, 2`;

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Per-bucket throughput and latency of jobs finished since `sinceMs`, for /stats and the dashboard. */
export async function finishedSince(db: Database, sinceMs: number, bucketMs: number): Promise<FinishedBucket[]> {
  const rows =
    db.dialect === "sqlite"
      ? await db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(SQLITE, sinceMs, bucketMs, sinceMs)
      : await db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(postgresql(db.schema ?? "public"), sinceMs, bucketMs);
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
