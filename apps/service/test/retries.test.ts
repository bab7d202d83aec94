import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  t = await startTestService("retries");
});
afterAll(async () => {
  await t.stop();
});

describe("retries with backoff", () => {
  test("a job that fails twice succeeds on its third attempt, keeping both errors in its history", async () => {
    const job = await t.submit({ type: "chaos", payload: { mode: "succeed_on_attempt", attempt: 3 }, max_attempts: 3 });
    const done = await t.waitForJob(job.id, "DONE");
    expect(done.attempts).toBe(3);
    expect(done.result).toEqual({ succeeded_on_attempt: 3 });
    expect(done.error).toBeNull();
    expect(done.error_history.map((e) => [e.attempt, e.message])).toEqual([
      [1, "attempt 1 fails on purpose"],
      [2, "attempt 2 fails on purpose"],
    ]);
  });

  test("each retry waits: run_at is set after the failed attempt, and the next attempt starts no earlier", async () => {
    const job = await t.submit({ type: "chaos", payload: { mode: "succeed_on_attempt", attempt: 2 }, max_attempts: 2 });
    const done = await t.waitForJob(job.id, "DONE");
    const failedAt = Date.parse(done.error_history[0]!.at!);
    expect(Date.parse(done.run_at)).toBeGreaterThan(failedAt);
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse(done.run_at));
  });

  test("an error marked not retryable fails the job at once, whatever max_attempts allows", async () => {
    const job = await t.submit({ type: "fail", payload: { message: "bad address", retryable: false }, max_attempts: 5 });
    const failed = await t.waitForJob(job.id, "FAILED");
    expect(failed.attempts).toBe(1);
    expect(failed.error).toMatchObject({ name: "UnrecoverableError", message: "bad address", retryable: false, attempt: 1 });
    expect(failed.error_history).toHaveLength(1);
  });

  test("when attempts are used up the job is FAILED with the last error", async () => {
    const job = await t.submit({ type: "fail", payload: { message: "still broken" }, max_attempts: 3 });
    const failed = await t.waitForJob(job.id, "FAILED");
    expect(failed.attempts).toBe(3);
    expect(failed.error).toMatchObject({ name: "Error", message: "still broken", attempt: 3 });
    expect(failed.error_history.map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(failed.finished_at).not.toBeNull();
  });

  test("while a retry waits the job is PENDING with the last error and a run_at after it", async () => {
    // A long backoff on this job alone: the service's RETRY_BASE_MS is tiny, so use a second service.
    const slow = await startTestService("retries_slow_backoff", { RETRY_BASE_MS: "600000", RETRY_MAX_MS: "600000" });
    try {
      const job = await slow.submit({ type: "fail", payload: { message: "try later" }, max_attempts: 2 });
      const waiting = await slow.waitForJob(job.id, (j) => j.status === "PENDING" && j.attempts === 1);
      expect(waiting.error).toMatchObject({ message: "try later", attempt: 1 });
      // Equal jitter: at least half of the 600 s base.
      expect(Date.parse(waiting.run_at) - Date.parse(waiting.error!.at!)).toBeGreaterThanOrEqual(300_000);
    } finally {
      await slow.stop();
    }
  });

  test("max_attempts outside 1..100 is refused", async () => {
    for (const max_attempts of [0, 101, 1.5]) {
      const res = await t.http.post("/jobs").send({ type: "noop", payload: {}, max_attempts });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].field).toBe("max_attempts");
    }
  });
});
