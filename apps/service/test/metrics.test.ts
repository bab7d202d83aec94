import { nowMs } from "../../core/src/time";
import { sample } from "./support/prometheus-text";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

let t: TestService;
beforeAll(async () => {
  t = await startTestService("metrics", { REAPER_INTERVAL_MS: "200" });
});
afterAll(async () => {
  await t.stop();
});

const scrape = async () => {
  const res = await t.http.get("/metrics");
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^text\/plain;.*version=0\.0\.4/);
  return res.text;
};

describe("GET /metrics and GET /stats", () => {
  test("job lifecycle counters, histograms and gauges follow what happened", async () => {
    const done = await t.submit({ type: "noop", payload: {} });
    const failing = await t.submit({ type: "fail", payload: { message: "nope" }, max_attempts: 2 });
    // A CPU job for the timeout: under heavy load, a timed-out sleep job has been seen to leave the
    // shared I/O thread answering no further task (reported to the reliability work, issue 3).
    const slow = await t.submit({ type: "hash", payload: { data: "slow", iterations: 2_000_000_000 }, timeout_ms: 50, max_attempts: 1 });
    await t.waitForJob(done.id, "DONE", 30_000);
    await t.waitForJob(failing.id, "FAILED", 30_000);
    await t.waitForJob(slow.id, "FAILED", 30_000);
    const text = await scrape();
    expect(sample(text, "taskq_jobs_submitted_total", { type: "noop" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "taskq_jobs_submitted_total", { type: "fail" })).toBe(1);
    expect(sample(text, "taskq_jobs_finished_total", { type: "noop", status: "DONE" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "taskq_jobs_finished_total", { type: "fail", status: "FAILED" })).toBe(1);
    expect(sample(text, "taskq_job_retries_total", { type: "fail" })).toBe(1);
    expect(sample(text, "taskq_job_timeouts_total", { type: "hash" })).toBe(1);
    expect(sample(text, "taskq_jobs_finished_total", { type: "hash", status: "FAILED" })).toBe(1);
    expect(sample(text, "taskq_job_queue_seconds_count", { type: "fail" })).toBe(2);
    expect(sample(text, "taskq_job_run_seconds_count", { type: "fail", status: "PENDING" })).toBe(1);
    expect(sample(text, "taskq_job_run_seconds_count", { type: "fail", status: "FAILED" })).toBe(1);
    expect(sample(text, "taskq_jobs", { status: "FAILED" })).toBe(2);
    // The noop and fail jobs were claimed by the io pool, the hash job by the cpu pool.
    expect(sample(text, "taskq_claims_total", { pool: "io", result: "jobs" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "taskq_claims_total", { pool: "cpu", result: "jobs" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "taskq_claim_size_sum", { pool: "cpu" })).toBe(1);
    expect(sample(text, "taskq_pool_slots", { pool: "cpu" })).toBe(2);
    expect(sample(text, "taskq_pool_slots", { pool: "io" })).toBeGreaterThan(0);
    expect(text).toMatch(/^taskq_pool_utilization_ratio\{pool="cpu"\} /m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(sample(text, "taskq_http_request_duration_seconds_count", { method: "GET", route: "/jobs/:id", status: "200" })).toBeGreaterThan(0);
    expect(sample(text, "taskq_http_request_duration_seconds_count", { method: "POST", route: "/jobs", status: "202" })).toBe(3);
  });

  test("a job whose worker stopped heartbeating is counted as a lease recovery", async () => {
    const job = await t.submit({ type: "noop", payload: {}, delay_ms: 3_600_000 });
    // As if another worker had claimed it and died: RUNNING, its lease already over.
    const now = nowMs();
    await t.service.store.db.prisma.job.update({
      where: { id: job.id },
      data: { status: "RUNNING", attempts: 1, startedAt: now, lockedBy: "gone", lockToken: "gone", leaseExpiresAt: now - 1, updatedAt: now },
    });
    await t.waitForJob(job.id, "DONE", 30_000);
    expect(sample(await scrape(), "taskq_lease_recoveries_total")).toBeGreaterThanOrEqual(1);
  });

  test("/stats: counts by status and per-minute throughput and latency", async () => {
    const jobs = await Promise.all([1, 2, 3].map(() => t.submit({ type: "noop", payload: {} })));
    for (const j of jobs) await t.waitForJob(j.id, "DONE", 30_000);
    // /stats caches for a second; wait until it has caught up with the jobs above.
    const stats = await waitFor("stats to include the jobs", async () => {
      const res = await t.http.get("/stats?minutes=5");
      expect(res.status).toBe(200);
      return res.body.counts.DONE >= 4 ? res.body : undefined;
    });
    expect(stats.window_minutes).toBe(5);
    expect(stats.minutes).toHaveLength(5);
    expect(stats.finished.total).toBeGreaterThanOrEqual(stats.counts.DONE);
    expect(stats.finished.done).toBe(stats.counts.DONE);
    expect(stats.finished.failed).toBe(stats.counts.FAILED);
    expect(stats.finished.avg_run_ms).toEqual(expect.any(Number));
    expect(stats.finished.avg_queue_ms).toEqual(expect.any(Number));
    const perMinute = stats.minutes.reduce((n: number, m: { done: number }) => n + m.done, 0);
    expect(perMinute).toBe(stats.finished.done);
    for (const bad of ["0", "61", "x"]) {
      const res = await t.http.get(`/stats?minutes=${bad}`);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe("query.minutes");
    }
  });

  test("a worker process (ROLE=worker) serves /metrics with its pools, and no job routes", async () => {
    const worker = await startTestService("metrics-worker", { ROLE: "worker", WORKER_ID: "metrics-worker" }, t.db);
    try {
      const res = await worker.http.get("/metrics");
      expect(res.status).toBe(200);
      expect(sample(res.text, "taskq_pool_slots", { pool: "cpu" })).toBe(2);
      expect(res.text).toMatch(/^taskq_jobs\{status="DONE"\} [1-9]/m);
      expect((await worker.http.get("/jobs")).status).toBe(404);
    } finally {
      await worker.stop();
    }
  });
});
