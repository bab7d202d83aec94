import { createHash } from "node:crypto";
import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  t = await startTestService("lifecycle");
});
afterAll(async () => {
  await t.stop();
});

describe("the job lifecycle through the HTTP API and the worker threads", () => {
  test("the original example: email_processing answers 202 at once with a Location, then ends DONE with a result", async () => {
    const res = await t.http
      .post("/jobs")
      .send({ type: "email_processing", payload: { email: "user@example.com", subject: "Welcome to the platform!" } });
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/jobs/${res.body.id}`);
    expect(res.body).toMatchObject({ type: "email_processing", status: "PENDING", attempts: 0, result: null, error: null });
    const done = await t.waitForJob(res.body.id, "DONE");
    expect(done.result).toMatchObject({ delivered_to: "user@example.com", subject: "Welcome to the platform!" });
    expect(done.attempts).toBe(1);
    expect(Date.parse(done.started_at!)).toBeLessThanOrEqual(Date.parse(done.finished_at!));
  });

  test("noop and sleep end DONE", async () => {
    const noop = await t.submit({ type: "noop", payload: {} });
    const sleep = await t.submit({ type: "sleep", payload: { ms: 20 } });
    expect((await t.waitForJob(noop.id, "DONE")).result).toEqual({ ok: true });
    expect((await t.waitForJob(sleep.id, "DONE")).result).toEqual({ slept_ms: 20 });
  });

  test("hash computes the iterated SHA-256 in a thread, with the default iteration count applied there", async () => {
    const job = await t.submit({ type: "hash", payload: { data: "abc", iterations: 5 } });
    let digest: Buffer = Buffer.from("abc");
    for (let i = 0; i < 5; i++) digest = createHash("sha256").update(digest).digest();
    expect((await t.waitForJob(job.id, "DONE")).result).toEqual({ digest: digest.toString("hex"), iterations: 5 });
  });

  test("fail, and its old name error_test, end FAILED with the error recorded but no stack shown", async () => {
    for (const type of ["fail", "error_test"]) {
      const job = await t.submit({ type, payload: { message: "boom" } });
      const failed = await t.waitForJob(job.id, "FAILED");
      expect(failed.error).toMatchObject({ name: "Error", message: "boom", attempt: 1 });
      expect(failed.error).not.toHaveProperty("stack");
      expect(failed.finished_at).not.toBeNull();
      expect(failed.result).toBeNull();
    }
  });

  test("a handler whose result is not JSON-serialisable fails its job; the service keeps running", async () => {
    const job = await t.submit({ type: "chaos", payload: { mode: "bigint_result" }, max_attempts: 1 });
    const failed = await t.waitForJob(job.id, "FAILED");
    expect(failed.error).toMatchObject({ name: "ResultNotSerializableError" });
    const next = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(next.id, "DONE");
  });

  test("a job that fails once and then succeeds ends DONE with no error and the failure in its history", async () => {
    const job = await t.submit({ type: "chaos", payload: { mode: "succeed_on_attempt", attempt: 2 }, max_attempts: 2 });
    const done = await t.waitForJob(job.id, "DONE");
    expect(done).toMatchObject({ attempts: 2, error: null, result: { succeeded_on_attempt: 2 } });
    expect(done.error_history).toEqual([expect.objectContaining({ message: "attempt 1 fails on purpose", attempt: 1 })]);
  });

  test("GET /jobs/{id}: 404 problem for an unknown id, 400 problem for a non-UUID", async () => {
    const missing = await t.http.get("/jobs/00000000-0000-4000-8000-000000000000");
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(missing.body).toMatchObject({ status: 404, title: "Not found" });
    const bad = await t.http.get("/jobs/not-a-uuid");
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: "id", message: "must be a UUID" }]);
  });

  test("N hash jobs run on several threads at once", async () => {
    const jobs = await Promise.all([1, 2, 3, 4].map((i) => t.submit({ type: "hash", payload: { data: `p${i}`, iterations: 150_000 } })));
    const done = await Promise.all(jobs.map((j) => t.waitForJob(j.id, "DONE", 60_000)));
    const spans = done.map((j) => [Date.parse(j.started_at!), Date.parse(j.finished_at!)] as const);
    const overlapping = spans.some(([s1, e1], i) => spans.some(([s2, e2], k) => k !== i && s1 < e2 && s2 < e1));
    expect(overlapping).toBe(true);
  });
});
