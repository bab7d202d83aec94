import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  // A grace period far beyond the wait below: the job can only end in time if the handler itself stops.
  t = await startTestService("cpu_abort", { ABORT_GRACE_MS: "600000" });
});
afterAll(async () => {
  await t.stop();
});

describe("a CPU-bound handler hears its abort while it computes", () => {
  test("cancelling a hash job that would run for hours ends it CANCELLED without terminating its thread", async () => {
    const job = await t.submit({ type: "hash", payload: { data: "x", iterations: 2 ** 31 - 1 } });
    await t.waitForJob(job.id, (j) => j.status === "RUNNING" && j.progress !== null);
    expect((await t.http.post(`/jobs/${job.id}/cancel`)).status).toBe(202);
    await t.waitForJob(job.id, "CANCELLED", 20_000);
  });

  test("a hash job past its timeout stops at once with a TimeoutError", async () => {
    const job = await t.submit({ type: "hash", payload: { data: "x", iterations: 2 ** 31 - 1 }, timeout_ms: 300, max_attempts: 1 });
    const failed = await t.waitForJob(job.id, "FAILED", 20_000);
    expect(failed.error).toMatchObject({ name: "TimeoutError" });
  });
});
