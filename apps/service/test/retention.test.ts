import { PURGE_BATCH } from "../../core/src/store/job-store";
import { countJobsInTable } from "../../../testing/test-database";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

const HOUR_MS = 3_600_000;
let t: TestService;
beforeAll(async () => {
  t = await startTestService("retention", { RETENTION_MS: String(HOUR_MS), RETENTION_SWEEP_MS: "1000" });
});
afterAll(async () => {
  await t.stop();
});

const MISSING = "00000000-0000-4000-8000-000000000000";

describe("DELETE /jobs/{id}", () => {
  test("a finished job is deleted: 204, then 404", async () => {
    const job = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(job.id, "DONE");
    const res = await t.http.delete(`/jobs/${job.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await t.http.get(`/jobs/${job.id}`)).status).toBe(404);
  });

  test("FAILED and CANCELLED jobs are finished too", async () => {
    const failed = await t.submit({ type: "fail", payload: {} });
    const cancelled = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    await t.http.post(`/jobs/${cancelled.id}/cancel`);
    await t.waitForJob(failed.id, "FAILED");
    expect((await t.http.delete(`/jobs/${failed.id}`)).status).toBe(204);
    expect((await t.http.delete(`/jobs/${cancelled.id}`)).status).toBe(204);
  });

  test("a PENDING or RUNNING job is not deleted: 409 problem, and it is still there", async () => {
    const pending = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    const running = await t.submit({ type: "sleep", payload: { ms: 60_000 } });
    await t.waitForJob(running.id, "RUNNING");
    for (const job of [pending, running]) {
      const res = await t.http.delete(`/jobs/${job.id}`);
      expect(res.status).toBe(409);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect((await t.http.get(`/jobs/${job.id}`)).status).toBe(200);
    }
    await t.http.post(`/jobs/${running.id}/cancel`);
    await t.http.post(`/jobs/${pending.id}/cancel`);
    await t.waitForJob(running.id, "CANCELLED");
  });

  test("an unknown job is a 404 problem; a bad id a 400", async () => {
    expect((await t.http.delete(`/jobs/${MISSING}`)).status).toBe(404);
    expect((await t.http.delete("/jobs/123")).status).toBe(400);
  });
});

describe("the retention sweep", () => {
  test("purges finished jobs that finished more than RETENTION_MS ago, and nothing else", async () => {
    const old = await Promise.all([t.submit({ type: "noop", payload: {} }), t.submit({ type: "fail", payload: {} })]);
    const recent = await t.submit({ type: "noop", payload: {} });
    const pending = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    await t.waitForJob(old[0].id, "DONE");
    await t.waitForJob(old[1].id, "FAILED");
    await t.waitForJob(recent.id, "DONE");
    // Age them in the database: the sweep reads finished_at, so this is what time would do.
    const prisma = t.service.store.db.prisma;
    await prisma.job.updateMany({ where: { id: { in: old.map((j) => j.id) } }, data: { finishedAt: Date.now() - 2 * HOUR_MS } });
    await prisma.job.updateMany({ where: { id: recent.id }, data: { finishedAt: Date.now() - HOUR_MS / 2 } });
    // A PENDING job is never purged, however old it is.
    await prisma.job.updateMany({ where: { id: pending.id }, data: { createdAt: Date.now() - 48 * HOUR_MS } });
    await waitFor("the sweep to purge the old jobs", async () => ((await prisma.job.count({ where: { id: { in: old.map((j) => j.id) } } })) === 0 ? true : undefined));
    expect((await t.get(recent.id)).status).toBe("DONE");
    expect((await t.get(pending.id)).status).toBe("PENDING");
  });
});

describe("purging in batches", () => {
  // No sweep here (RETENTION_MS=0), so this test's one call is the only purger. Beside a sweep,
  // on PostgreSQL the call skips the rows the sweep has locked (SKIP LOCKED) and may return
  // before the sweep commits their deletion.
  let quiet: TestService;
  beforeAll(async () => {
    quiet = await startTestService("retention_batches", { RETENTION_MS: "0" });
  });
  afterAll(async () => {
    await quiet.stop();
  });

  test(`more expired jobs than one batch (${PURGE_BATCH}) are all purged; recent and unfinished ones stay`, async () => {
    const now = Date.now();
    // Due in an hour, so that the service's own dispatcher leaves the PENDING one alone.
    const row = (i: number, status: string, finishedAt: number | null) => ({
      id: `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`,
      type: "noop",
      status,
      payload: "{}",
      maxAttempts: 1,
      timeoutMs: 1_000,
      runAt: now + HOUR_MS,
      createdAt: now - 3 * HOUR_MS,
      updatedAt: now - 3 * HOUR_MS,
      finishedAt,
    });
    const expired = Array.from({ length: 2.5 * PURGE_BATCH }, (_, i) => row(i, ["DONE", "FAILED", "CANCELLED"][i % 3]!, now - 2 * HOUR_MS));
    const kept = [row(900_001, "DONE", now - HOUR_MS / 2), row(900_002, "PENDING", null), row(900_003, "RUNNING", null)];
    const prisma = quiet.service.store.db.prisma;
    await prisma.job.createMany({ data: [...expired, ...kept] });

    await quiet.service.store.purgeFinished(now - HOUR_MS);
    expect(await prisma.job.count({ where: { finishedAt: { lt: now - HOUR_MS } } })).toBe(0);
    expect((await prisma.job.findMany({ where: { id: { in: kept.map((r) => r.id) } }, select: { status: true } })).map((r) => r.status).sort()).toEqual(["DONE", "PENDING", "RUNNING"]);
    expect(await quiet.service.store.countByStatus()).toEqual(await countJobsInTable(quiet.service.store));
  });
});
