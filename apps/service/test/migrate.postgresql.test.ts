import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { openDatabase, postgresSchema } from "../../core/src/store/database";
import { createLogger } from "../../core/src/logger";
import { JobStore } from "../../core/src/store/job-store";
import { migrate } from "../../core/src/store/migrate";
import { readMigrations } from "../../core/src/store/migrations";
import { createTestDatabase, POSTGRES_TEST_URL, type TestDatabase } from "../../../testing/test-database";

let db: TestDatabase;
let pg: Client;
beforeAll(async () => {
  db = await createTestDatabase("migrate");
  pg = new Client({ connectionString: POSTGRES_TEST_URL });
  await pg.connect();
});
afterAll(async () => {
  await pg.end();
  await db.drop();
});

describe("PostgreSQL migrations and the schema named in DATABASE_URL", () => {
  test("several processes migrating a fresh schema at once apply each migration exactly once", async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, () => migrate(db.url, { busyTimeoutMs: 5_000 })));
    const names = readMigrations("postgresql").map((m) => m.name);
    expect(runs.filter((applied) => applied.length > 0)).toEqual([names]);
    const schema = postgresSchema(db.url);
    const history = await pg.query(`SELECT migration_name FROM "${schema}"."_prisma_migrations" ORDER BY migration_name`);
    expect(history.rows.map((r) => r.migration_name)).toEqual(names);
    const tables = await pg.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [schema]);
    expect(tables.rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(["_prisma_migrations", "jobs"]));
    expect(await migrate(db.url, { busyTimeoutMs: 5_000 })).toEqual([]);
  });

  test("raw SQL (enqueue, claim) and Prisma model queries both read and write the URL's schema, not public", async () => {
    const database = await openDatabase(db.url, { busyTimeoutMs: 5_000 });
    const store = new JobStore(database, createLogger({ level: "error", pretty: false }));
    try {
      const id = randomUUID();
      const now = Date.now();
      await store.enqueue([{ id, type: "noop", payload: "{}", maxAttempts: 1, priority: 0, timeoutMs: 1_000, runAt: now, createdAt: now, idempotencyKey: null, requestHash: null }]);
      expect((await store.get(id))?.status).toBe("PENDING");
      const [claimed] = await store.claimBatch({ owner: "w", types: ["noop"], limit: 1, leaseMs: 10_000 });
      expect(claimed?.id).toBe(id);
      const schema = postgresSchema(db.url);
      const row = await pg.query(`SELECT status, locked_by FROM "${schema}".jobs WHERE id = $1`, [id]);
      expect(row.rows).toEqual([{ status: "RUNNING", locked_by: "w" }]);
      // Other schemas may hold a jobs table (other test files, other users); none of them holds our row.
      for (const { table_schema } of (await pg.query("SELECT table_schema FROM information_schema.tables WHERE table_name = 'jobs' AND table_schema <> $1", [schema])).rows) {
        // A schema another test file drops meanwhile holds nothing of ours either.
        const leaked = await pg.query(`SELECT 1 FROM "${table_schema}".jobs WHERE id = $1`, [id]).catch(() => ({ rows: [] }));
        expect(leaked.rows).toEqual([]);
      }
    } finally {
      await store.close();
    }
  });
});
