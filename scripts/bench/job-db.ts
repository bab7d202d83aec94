import { randomUUID } from "node:crypto";
import BetterSqlite3 from "better-sqlite3";
import { sqliteStatements } from "../../apps/core/src/store/sqlite/statements";
import { nowMs } from "../../apps/core/src/time";
import { NOOP_JOB } from "./load";

/**
 * Reads the service's SQLite file from the bench process (WAL: a reader never blocks the
 * service's writer). The job rows carry the instants in ms with µs precision, which the API
 * renders only to the ms; the latency figures come from here.
 */
export class JobDb {
  private readonly db: BetterSqlite3.Database;

  constructor(file: string, options: { readonly: boolean } = { readonly: true }) {
    this.db = new BetterSqlite3(file, { readonly: options.readonly, fileMustExist: true, timeout: 5_000 });
  }

  /** Jobs not yet DONE, FAILED or CANCELLED (uses the claim index: cheap at any size). */
  unfinished(): number {
    const row = this.db.prepare("SELECT count(*) AS n FROM jobs WHERE status IN ('PENDING', 'RUNNING')").get() as { n: number };
    return row.n;
  }

  countByStatus(): Record<string, number> {
    const rows = this.db.prepare("SELECT status, count(*) AS n FROM jobs GROUP BY status").all() as { status: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** First claim and last outcome over every job: the span the workers were busy. */
  span(): { firstStartedAt: number; lastFinishedAt: number; count: number } {
    return this.db.prepare("SELECT min(started_at) AS firstStartedAt, max(finished_at) AS lastFinishedAt, count(*) AS count FROM jobs").get() as {
      firstStartedAt: number;
      lastFinishedAt: number;
      count: number;
    };
  }

  /** Like span, over the jobs created from `since` on (a warm-up before it is left out). */
  spanSince(since: number): { firstStartedAt: number; lastFinishedAt: number; count: number } {
    return this.db
      .prepare("SELECT min(started_at) AS firstStartedAt, max(finished_at) AS lastFinishedAt, count(*) AS count FROM jobs WHERE created_at >= ?")
      .get(since) as { firstStartedAt: number; lastFinishedAt: number; count: number };
  }

  doneCount(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM jobs WHERE status = 'DONE'").get() as { n: number }).n;
  }

  finishedAt(id: string): number | null {
    const row = this.db.prepare("SELECT finished_at AS f FROM jobs WHERE id = ?").get(id) as { f: number | null } | undefined;
    return row?.f ?? null;
  }

  times(ids: readonly string[]): { id: string; createdAt: number; startedAt: number; finishedAt: number; status: string }[] {
    const stmt = this.db.prepare("SELECT id, created_at AS createdAt, started_at AS startedAt, finished_at AS finishedAt, status FROM jobs WHERE id = ?");
    return ids.map((id) => stmt.get(id) as { id: string; createdAt: number; startedAt: number; finishedAt: number; status: string });
  }

  /**
   * Stores `count` PENDING noop jobs straight into the file (the service must not be running):
   * the backlog stage needs a million rows, which through HTTP would measure the API instead
   * of the claim. The rows are generated inside SQLite (random v4 UUIDs, the columns the
   * service's enqueue writes, the rest from the table's defaults), with the secondary indexes
   * dropped first and rebuilt from their own definitions afterwards: building an index once is
   * much faster than growing it row by row, and the file ends up the same.
   */
  seedNoopJobs(count: number): void {
    const indexes = this.db
      .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL AND name <> 'jobs_idempotency_key_key'")
      .all() as { name: string; sql: string }[];
    for (const index of indexes) this.db.exec(`DROP INDEX "${index.name}"`);
    const now = nowMs();
    this.db
      .prepare(
        `INSERT INTO jobs (id, type, status, payload, attempts, max_attempts, priority, timeout_ms, run_at, created_at, updated_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
                      substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
                'noop', 'PENDING', ?, 0, 3, 0, 300000, ?, ?, ?
         FROM n`,
      )
      .run(count, JSON.stringify(NOOP_JOB.payload), now, now, now);
    for (const index of indexes) this.db.exec(index.sql);
  }

  /**
   * The claim statement the dispatcher runs for `types`, timed on its own: `rounds` claims of up
   * to `limit` jobs, each rolled back so the backlog stays the same size. Per-claim µs, in order.
   */
  claimTimes(types: readonly string[], limit: number, rounds: number): { timesUs: number[]; claimed: number; plan: string[] } {
    const sql = sqliteStatements.claimBatch(types.length);
    const order: number[] = [];
    const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
      order.push(Number(n));
      return "?";
    });
    const claim = this.db.prepare(text);
    const times: number[] = [];
    let claimed = 0;
    for (let i = 0; i < rounds; i++) {
      const now = nowMs();
      const args = [now, "bench", randomUUID(), now + 30_000, JSON.stringify(types), limit];
      this.db.exec("BEGIN IMMEDIATE");
      const started = performance.now();
      const rows = claim.all(...order.map((n) => args[n - 1]));
      times.push((performance.now() - started) * 1000);
      this.db.exec("ROLLBACK");
      claimed = rows.length;
    }
    const plan = (this.db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...order.map(() => null)) as { detail: string }[]).map((r) => r.detail);
    return { timesUs: times, claimed, plan };
  }

  close(): void {
    this.db.close();
  }
}

/** The q-quantile of sorted values (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
