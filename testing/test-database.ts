import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import type { JobStatus } from "../apps/core/src/jobs/job";
import type { JobStore } from "../apps/core/src/store/job-store";

/**
 * Each test file gets its own database: a fresh SQLite file, or — when TEST_DATABASE=postgresql
 * — its own PostgreSQL schema, dropped afterwards. The whole suite runs against either.
 */
export type TestDialect = "sqlite" | "postgresql";

export const testDialect: TestDialect = process.env.TEST_DATABASE === "postgresql" ? "postgresql" : "sqlite";

/** Where the PostgreSQL test schemas are created (CI: the machine's server). */
export const POSTGRES_TEST_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(name: string, dialect: TestDialect = testDialect): Promise<TestDatabase> {
  const suffix = `${name.replace(/[^a-z0-9]/gi, "_").toLowerCase()}_${randomBytes(4).toString("hex")}`;
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "taskq-test-"));
    return { url: `file:${join(dir, `${suffix}.db`)}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `t_${suffix}`.slice(0, 63);
  const url = new URL(POSTGRES_TEST_URL);
  url.searchParams.set("schema", schema);
  return {
    url: url.toString(),
    drop: async () => {
      const client = new Client({ connectionString: POSTGRES_TEST_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Jobs by status counted from the table itself, to hold the trigger-kept counters (JobStore.countByStatus) against. */
export async function countJobsInTable(store: JobStore): Promise<Record<JobStatus, number>> {
  const groups = await store.db.prisma.job.groupBy({ by: ["status"], _count: { _all: true } });
  const counts: Record<JobStatus, number> = { PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0, CANCELLED: 0 };
  for (const g of groups) counts[g.status as JobStatus] = g._count._all;
  return counts;
}
