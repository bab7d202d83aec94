import Database from "better-sqlite3";
import { sqlitePath } from "../../core/src/store/database";
import { createTestDatabase, testDialect, type TestDatabase } from "../../../testing/test-database";
import { type ServiceProcess, startServiceProcess } from "./support/service-process";
import { waitFor } from "../../../testing/wait";

const JOBS = 300;
const SUBMITTERS = 10;
// Two child processes per test on a shared 2-core machine: the waits below have their own
// deadlines, inside this one, so that a slow run fails with a message and still cleans up.
jest.setTimeout(240_000);

function baseEnv(db: TestDatabase, workerId: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    DATABASE_URL: db.url,
    WORKER_ID: workerId,
    ENABLE_TEST_HANDLERS: "true",
    CPU_THREADS: "1",
    IO_THREADS: "1",
    IO_CONCURRENCY_PER_THREAD: "16",
    POLL_INTERVAL_MS: "200",
    RETRY_BASE_MS: "10",
    RETRY_MAX_MS: "100",
    ...extra,
  };
}

/** Noops and sleeps (a tenth of 3 s, so that some still run at the kill), from several concurrent clients; returns the ids that got a 202. */
async function submitMany(service: ServiceProcess): Promise<string[]> {
  const accepted: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: SUBMITTERS }, async () => {
      while (next < JOBS) {
        const i = next++;
        const body = i % 3 === 0 ? { type: "noop", payload: { i } } : { type: "sleep", payload: { ms: i % 10 === 1 ? 3_000 : 20 + (i % 5) * 40 } };
        const res = await fetch(`${service.baseUrl}/jobs`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        if (res.status === 202) accepted.push(((await res.json()) as { id: string }).id);
      }
    }),
  );
  return accepted;
}

function statuses(db: TestDatabase): Map<string, { status: string; errorHistory: string }> {
  const conn = new Database(sqlitePath(db.url), { readonly: true });
  try {
    const rows = conn.prepare("SELECT id, status, error_history AS errorHistory FROM jobs").all() as { id: string; status: string; errorHistory: string }[];
    return new Map(rows.map((r) => [r.id, r]));
  } finally {
    conn.close();
  }
}

const countStatus = (db: TestDatabase, status: string) => [...statuses(db).values()].filter((r) => r.status === status).length;

/** Submits, waits until jobs are running and some are done, then SIGKILLs the process. */
async function submitAndKill(db: TestDatabase, first: ServiceProcess): Promise<string[]> {
  const accepted = await submitMany(first);
  expect(accepted).toHaveLength(JOBS);
  await waitFor("some jobs to finish while others run", async () => {
    const res = await fetch(`${first.baseUrl}/jobs?status=DONE&limit=1`);
    const body = (await res.json()) as { items: unknown[] };
    return body.items.length > 0 ? true : undefined;
  });
  await first.kill();
  // The test means something only if the kill left work behind.
  expect(countStatus(db, "RUNNING")).toBeGreaterThan(0);
  return accepted;
}

async function expectAllDone(db: TestDatabase, accepted: string[]): Promise<Map<string, { status: string; errorHistory: string }>> {
  const rows = await waitFor(
    "every accepted job to reach a terminal state",
    () => {
      const now = statuses(db);
      return accepted.every((id) => ["DONE", "FAILED", "CANCELLED"].includes(now.get(id)?.status ?? "")) ? now : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  const lost = accepted.filter((id) => !rows.has(id));
  expect(lost).toEqual([]);
  expect(accepted.filter((id) => rows.get(id)!.status !== "DONE")).toEqual([]);
  return rows;
}

const describeSqlite = testDialect === "sqlite" ? describe : describe.skip;
if (testDialect !== "sqlite") {
  test.skip("the crash test reads the SQLite file directly; skipped on PostgreSQL", () => {});
}

describeSqlite("a SIGKILLed service loses no accepted job", () => {
  let db: TestDatabase;
  const processes: ServiceProcess[] = [];
  beforeEach(async () => {
    db = await createTestDatabase("crash_recovery");
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) await p.kill();
    await db.drop();
  });

  test("restarted under the same WORKER_ID, it takes back what it left RUNNING and completes every job", async () => {
    const first = await startServiceProcess("crash-same", baseEnv(db, "crash-same"));
    processes.push(first);
    const accepted = await submitAndKill(db, first);
    processes.push(await startServiceProcess("crash-same", baseEnv(db, "crash-same")));
    const rows = await expectAllDone(db, accepted);
    // The jobs that were running at the kill carry the lost attempt in their history.
    expect([...rows.values()].some((r) => r.errorHistory.includes("WorkerLostError"))).toBe(true);
  });

  test("restarted under another WORKER_ID, the dead worker's leases expire and the reaper hands its jobs out again", async () => {
    const leases = { LEASE_MS: "1000", REAPER_INTERVAL_MS: "200" };
    const first = await startServiceProcess("crash-old", baseEnv(db, "crash-old", leases));
    processes.push(first);
    const accepted = await submitAndKill(db, first);
    processes.push(await startServiceProcess("crash-new", baseEnv(db, "crash-new", leases)));
    const rows = await expectAllDone(db, accepted);
    expect([...rows.values()].some((r) => r.errorHistory.includes("WorkerLostError"))).toBe(true);
  });
});
