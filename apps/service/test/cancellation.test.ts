import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  t = await startTestService("cancellation");
});
afterAll(async () => {
  await t.stop();
});

const MISSING = "00000000-0000-4000-8000-000000000000";

function expectProblem(res: { status: number; headers: Record<string, string>; body: { status: number } }, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
}

describe("cancellation", () => {
  test("cancelling a PENDING job answers 200 with the job CANCELLED at once; it never runs", async () => {
    const job = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    const res = await t.http.post(`/jobs/${job.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: job.id, status: "CANCELLED", attempts: 0, started_at: null });
    expect(res.body.finished_at).not.toBeNull();
    expect((await t.get(job.id)).status).toBe("CANCELLED");
  });

  test("cancelling a RUNNING job answers 202; the handler is aborted and the job ends CANCELLED", async () => {
    const job = await t.submit({ type: "sleep", payload: { ms: 60_000 } });
    await t.waitForJob(job.id, "RUNNING");
    const res = await t.http.post(`/jobs/${job.id}/cancel`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: "RUNNING", cancel_requested: true });
    const cancelled = await t.waitForJob(job.id, "CANCELLED", 10_000);
    expect(cancelled.error).toBeNull();
    expect(cancelled.attempts).toBe(1);
    expect(cancelled.finished_at).not.toBeNull();
  });

  test("a handler that ignores its abort signal still ends CANCELLED: its thread is terminated", async () => {
    const job = await t.submit({ type: "chaos", payload: { mode: "ignore_abort", ms: 60_000 } });
    await t.waitForJob(job.id, "RUNNING");
    expect((await t.http.post(`/jobs/${job.id}/cancel`)).status).toBe(202);
    await t.waitForJob(job.id, "CANCELLED", 10_000);
    const next = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(next.id, "DONE");
  });

  test("cancelling a finished job is a 409 problem; an unknown job a 404; a bad id a 400", async () => {
    const job = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(job.id, "DONE");
    const finished = await t.http.post(`/jobs/${job.id}/cancel`);
    expectProblem(finished, 409);
    expect(finished.body.detail).toContain("DONE");
    expect((await t.get(job.id)).status).toBe("DONE");
    expectProblem(await t.http.post(`/jobs/${MISSING}/cancel`), 404);
    expectProblem(await t.http.post("/jobs/nope/cancel"), 400);
  });

  test("cancelling twice: the second answer is 409, the job stays CANCELLED", async () => {
    const job = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    expect((await t.http.post(`/jobs/${job.id}/cancel`)).status).toBe(200);
    expectProblem(await t.http.post(`/jobs/${job.id}/cancel`), 409);
  });
});

describe("manual retry", () => {
  test("a FAILED job goes back to PENDING with fresh attempts, runs again, and keeps its error history", async () => {
    const job = await t.submit({ type: "fail", payload: { message: "first" }, max_attempts: 1 });
    await t.waitForJob(job.id, "FAILED");
    const res = await t.http.post(`/jobs/${job.id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: "PENDING", attempts: 0, finished_at: null });
    const again = await t.waitForJob(job.id, (j) => j.status === "FAILED" && j.error_history.length === 2);
    expect(again.attempts).toBe(1);
  });

  test("a CANCELLED job can be retried and then runs to DONE", async () => {
    const job = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    expect((await t.http.post(`/jobs/${job.id}/cancel`)).status).toBe(200);
    expect((await t.http.post(`/jobs/${job.id}/retry`)).status).toBe(202);
    const done = await t.waitForJob(job.id, "DONE");
    expect(done.result).toEqual({ ok: true });
  });

  test("retrying a DONE, PENDING or RUNNING job is a 409 problem; an unknown one a 404", async () => {
    const done = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(done.id, "DONE");
    expectProblem(await t.http.post(`/jobs/${done.id}/retry`), 409);
    const pending = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    expectProblem(await t.http.post(`/jobs/${pending.id}/retry`), 409);
    const running = await t.submit({ type: "sleep", payload: { ms: 60_000 } });
    await t.waitForJob(running.id, "RUNNING");
    expectProblem(await t.http.post(`/jobs/${running.id}/retry`), 409);
    expect((await t.http.post(`/jobs/${running.id}/cancel`)).status).toBe(202);
    expect((await t.http.post(`/jobs/${pending.id}/cancel`)).status).toBe(200);
    expectProblem(await t.http.post(`/jobs/${MISSING}/retry`), 404);
    await t.waitForJob(running.id, "CANCELLED");
  });
});
