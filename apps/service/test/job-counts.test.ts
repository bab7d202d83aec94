import type { JobStatus } from "../../core/src/jobs/job";
import { migrate } from "../../core/src/store/migrate";
import { startTestService, type TestService } from "./support/test-service";
import { countJobsInTable, testDialect } from "../../../testing/test-database";

/**
 * The counts by status that /stats, the dashboard and the taskq_jobs gauge show come from
 * job_counts, kept by triggers; these tests hold them against a GROUP BY over the table after
 * every kind of change the service makes.
 */
let t: TestService;
beforeAll(async () => {
  t = await startTestService("job-counts", { RETRY_BASE_MS: "10", RETRY_MAX_MS: "10" });
});
afterAll(async () => {
  await t.stop();
});

async function expectCountsMatchTable(): Promise<Record<JobStatus, number>> {
  const truth = await countJobsInTable(t.service.store);
  expect(await t.service.store.countByStatus()).toEqual(truth);
  return truth;
}

test("the counters follow every change: submit, claim, done, retry, fail, cancel, retry by hand, delete", async () => {
  const done = (await t.http.post("/jobs/batch").send({ jobs: Array.from({ length: 20 }, () => ({ type: "noop", payload: {} })) })).body.jobs as { id: string }[];
  const failed = await t.submit({ type: "fail", payload: {}, max_attempts: 2 });
  const delayed = await Promise.all([1, 2, 3].map(() => t.submit({ type: "noop", payload: {}, delay_ms: 600_000 })));
  const running = await t.submit({ type: "sleep", payload: { ms: 60_000 } });
  // A repeat with the same key inserts nothing and must count nothing.
  for (let i = 0; i < 2; i++) await t.http.post("/jobs").set("Idempotency-Key", "counts-once").send({ type: "noop", payload: {}, delay_ms: 600_000 });

  await t.waitForJob(failed.id, "FAILED");
  await t.waitForJob(running.id, "RUNNING");
  for (const job of done) await t.waitForJob(job.id, "DONE");
  const during = await expectCountsMatchTable();
  expect(during).toMatchObject({ PENDING: 4, RUNNING: 1, DONE: 20, FAILED: 1, CANCELLED: 0 });

  expect((await t.http.post(`/jobs/${delayed[0]!.id}/cancel`)).status).toBe(200);
  await t.http.post(`/jobs/${running.id}/cancel`);
  await t.waitForJob(running.id, "CANCELLED");
  expect((await t.http.post(`/jobs/${failed.id}/retry`)).status).toBe(202);
  await t.waitForJob(failed.id, (j) => j.status === "FAILED" && j.attempts === 2);
  expect((await t.http.delete(`/jobs/${done[0]!.id}`)).status).toBe(204);

  const after = await expectCountsMatchTable();
  expect(after).toMatchObject({ PENDING: 3, RUNNING: 0, DONE: 19, FAILED: 1, CANCELLED: 2 });
  expect((await t.http.get("/stats")).body.counts).toEqual(after);
});

test("the migration that adds the counters counts the jobs already stored", async () => {
  // Back to the database as it was before that migration, with jobs in it, then migrate again.
  const prisma = t.service.store.db.prisma;
  if (testDialect === "sqlite") {
    for (const trigger of ["jobs_count_insert", "jobs_count_update", "jobs_count_delete"]) await prisma.$executeRawUnsafe(`DROP TRIGGER ${trigger}`);
    await prisma.$executeRawUnsafe("DROP TABLE job_counts");
  } else {
    for (const fn of ["jobs_count_insert", "jobs_count_update", "jobs_count_delete"]) await prisma.$executeRawUnsafe(`DROP FUNCTION ${fn}() CASCADE`);
    await prisma.$executeRawUnsafe("DROP TABLE job_counts");
  }
  await prisma.$executeRawUnsafe(`DELETE FROM "_prisma_migrations" WHERE migration_name LIKE '%_job_counts'`);
  await prisma.$executeRawUnsafe("UPDATE jobs SET status = 'FAILED' WHERE status = 'CANCELLED'");

  expect(await migrate(t.db.url, { busyTimeoutMs: 5_000 })).toEqual([expect.stringMatching(/_job_counts$/)]);
  const counts = await expectCountsMatchTable();
  expect(counts).toMatchObject({ DONE: 19, FAILED: 3, CANCELLED: 0 });

  // And the triggers are back: a new job counts.
  const job = await t.submit({ type: "noop", payload: {} });
  await t.waitForJob(job.id, "DONE");
  expect((await expectCountsMatchTable()).DONE).toBe(20);
});
