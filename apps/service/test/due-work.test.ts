import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  // The safety poll is a minute away: only the dispatcher's due-time wake-ups can start these jobs in time.
  t = await startTestService("due-work", { POLL_INTERVAL_MS: "60000", RETRY_BASE_MS: "200", RETRY_MAX_MS: "200" });
});
afterAll(async () => {
  await t.stop();
});

describe("work that is not ready when it is announced starts when it is due, not at the next safety poll", () => {
  test("a job submitted with delay_ms", async () => {
    const job = await t.submit({ type: "noop", payload: {}, delay_ms: 300 });
    const done = await t.waitForJob(job.id, "DONE", 20_000);
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse(job.run_at));
  });

  test("a batch whose jobs are due at different times: each starts when due", async () => {
    const res = await t.http.post("/jobs/batch").send({ jobs: [900, 300, 600].map((delay_ms) => ({ type: "noop", payload: {}, delay_ms })) });
    expect(res.status).toBe(202);
    const done = await Promise.all(res.body.jobs.map((j: { id: string }) => t.waitForJob(j.id, "DONE", 20_000)));
    for (const job of done) expect(Date.parse(job.started_at!)).toBeGreaterThanOrEqual(Date.parse(job.run_at));
  });

  test("a retry after its backoff", async () => {
    const job = await t.submit({ type: "chaos", payload: { mode: "succeed_on_attempt", attempt: 2 }, max_attempts: 2 });
    const done = await t.waitForJob(job.id, "DONE", 20_000);
    expect(done.attempts).toBe(2);
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse(done.run_at));
  });
});
