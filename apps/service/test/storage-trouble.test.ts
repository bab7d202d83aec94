import { holdJobsWriteLock } from "./support/jobs-write-lock";
import { sample } from "./support/prometheus-text";
import { startTestService, type TestService } from "./support/test-service";
import { testDialect } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";

const BUSY_TIMEOUT_MS = 500;
let t: TestService;
beforeAll(async () => {
  t = await startTestService("storage_trouble", { SQLITE_BUSY_TIMEOUT_MS: String(BUSY_TIMEOUT_MS) });
});
afterAll(async () => {
  await t.stop();
});

const count = () => t.service.store.db.prisma.job.count();

/**
 * Makes the database refuse the status updates `when` matches (a trigger, as a locked or read-only
 * database would) until lift(). `failures()` counts the store's failed `operation`s since, as
 * an operator reads them on /metrics.
 */
async function refuse(service: TestService, operation: "settle" | "claimBatch", when: string): Promise<{ failures(): Promise<number>; lift(): Promise<void> }> {
  const failed = async () => sample((await service.http.get("/metrics")).text, "taskq_storage_failures_total", { operation });
  const before = await failed();
  await service.service.store.db.prisma.$executeRawUnsafe(`CREATE TRIGGER refuse BEFORE UPDATE OF status ON jobs WHEN ${when} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
  let lifted = false;
  return {
    failures: async () => (await failed()) - before,
    async lift() {
      if (lifted) return;
      lifted = true;
      await service.service.store.db.prisma.$executeRawUnsafe("DROP TRIGGER refuse");
    },
  };
}

const describeSqlite = testDialect === "sqlite" ? describe : describe.skip;

describeSqlite("storage trouble (SQLite)", () => {
  test("a submission that cannot be committed gets a 503 problem, never a 202, and nothing is stored", async () => {
    const before = await count();
    const lock = await holdJobsWriteLock(t.db.url);
    let single;
    let batch;
    try {
      single = await t.http.post("/jobs").send({ type: "noop", payload: {} });
      batch = await t.http.post("/jobs/batch").send({ jobs: [{ type: "noop", payload: {} }] });
    } finally {
      await lock.release();
    }
    for (const res of [single, batch]) {
      expect(res.status).toBe(503);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(res.headers["retry-after"]).toBe("1");
      expect(res.body).toMatchObject({ status: 503, type: "urn:taskq:problem:storage-unavailable" });
      expect(JSON.stringify(res.body)).not.toMatch(/SQLITE|Prisma|locked|\n\s+at /i);
    }
    expect(await count()).toBe(before);
    // Once the lock is gone the service accepts and runs work again.
    const job = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(job.id, "DONE");
  });

  test("a lock released within SQLITE_BUSY_TIMEOUT_MS is waited for: the submission is stored and runs", async () => {
    // An API process that waits up to 10 s, so the 200 ms lock is well inside its budget however loaded the machine.
    const patient = await startTestService("storage_trouble_patient", { ROLE: "api", SQLITE_BUSY_TIMEOUT_MS: "10000" }, t.db);
    try {
      const lock = await holdJobsWriteLock(t.db.url, { releaseAfterMs: 200 });
      const res = await patient.http.post("/jobs").send({ type: "noop", payload: {} });
      await lock.release();
      expect(res.status).toBe(202);
      await t.waitForJob(res.body.id, "DONE");
    } finally {
      await patient.stop();
    }
  });

  test("an outcome the database refuses to write is retried until it is stored, not left to the lease", async () => {
    const job = await t.submit({ type: "sleep", payload: { ms: 300 } });
    await t.waitForJob(job.id, "RUNNING");
    // The database itself refuses this job's DONE (as it would while locked or read-only).
    const refusal = await refuse(t, "settle", `NEW.id = '${job.id}' AND NEW.status = 'DONE'`);
    try {
      await waitFor("a refused write of the outcome", async () => ((await refusal.failures()) > 0 ? true : undefined));
      await refusal.lift();
      const done = await t.waitForJob(job.id, "DONE");
      expect(done.attempts).toBe(1);
      expect(done.error_history).toEqual([]);
    } finally {
      await refusal.lift();
    }
  });

  test("a claim the database refuses is tried again soon, not at the next safety poll", async () => {
    const own = await startTestService("storage_trouble_claim", { POLL_INTERVAL_MS: "60000" });
    const refusal = await refuse(own, "claimBatch", "NEW.status = 'RUNNING'");
    try {
      const job = await own.submit({ type: "noop", payload: {} });
      await waitFor("a refused claim", async () => ((await refusal.failures()) > 0 ? true : undefined));
      await refusal.lift();
      // Nothing else will announce the job, and the safety poll is a minute away.
      await own.waitForJob(job.id, "DONE", 20_000);
    } finally {
      await refusal.lift();
      await own.stop();
    }
  });
});

if (testDialect !== "sqlite") {
  test.skip("storage trouble tests use SQLite's write lock; skipped on PostgreSQL", () => {});
}
