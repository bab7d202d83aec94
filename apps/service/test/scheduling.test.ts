import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

let t: TestService;
beforeAll(async () => {
  // One io slot: a running sleep job holds it, so the order of the next claims is observable.
  t = await startTestService("scheduling", { IO_THREADS: "1", IO_CONCURRENCY_PER_THREAD: "1" });
});
afterAll(async () => {
  await t.stop();
});

/** The row's instants with their sub-millisecond precision (the API rounds to ms). */
async function startedAt(id: string): Promise<number> {
  const row = await t.service.store.get(id);
  if (row?.startedAt == null) throw new Error(`job ${id} has not started`);
  return row.startedAt;
}

describe("scheduling", () => {
  test("delay_ms: the job is not started before created_at + delay_ms", async () => {
    const job = await t.submit({ type: "noop", payload: {}, delay_ms: 1_500 });
    expect(Date.parse(job.run_at) - Date.parse(job.created_at)).toBeGreaterThanOrEqual(1_499);
    const done = await t.waitForJob(job.id, "DONE");
    expect(await startedAt(job.id)).toBeGreaterThanOrEqual((await t.service.store.get(job.id))!.runAt);
    expect(done.run_at).toBe(job.run_at);
  });

  test("run_at (ISO 8601 with an offset): the job is not started before that instant", async () => {
    const runAt = new Date(Date.now() + 1_500);
    const job = await t.submit({ type: "noop", payload: {}, run_at: runAt.toISOString().replace("Z", "+00:00") });
    expect(Date.parse(job.run_at)).toBe(runAt.getTime());
    await t.waitForJob(job.id, "DONE");
    expect(await startedAt(job.id)).toBeGreaterThanOrEqual(runAt.getTime());
  });

  test("run_at and delay_ms together are refused", async () => {
    const res = await t.http.post("/jobs").send({ type: "noop", payload: {}, delay_ms: 10, run_at: new Date().toISOString() });
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.body.errors[0].field).toBe("delay_ms");
  });

  test("a run_at in the past runs at once", async () => {
    const job = await t.submit({ type: "noop", payload: {}, run_at: "2001-01-01T00:00:00Z" });
    await t.waitForJob(job.id, "DONE");
  });

  test("priority: with the only slot busy, a later high-priority job starts before an earlier low one; equal priorities go oldest first", async () => {
    const blocker = await t.submit({ type: "sleep", payload: { ms: 60_000 } });
    await t.waitForJob(blocker.id, "RUNNING");
    const low = await t.submit({ type: "noop", payload: {}, priority: -5 });
    const firstMiddle = await t.submit({ type: "noop", payload: {}, priority: 0 });
    const secondMiddle = await t.submit({ type: "noop", payload: {}, priority: 0 });
    const high = await t.submit({ type: "noop", payload: {}, priority: 5 });
    // Nothing can start while the blocker holds the slot.
    expect((await t.service.store.countByStatus()).RUNNING).toBe(1);
    expect((await t.http.post(`/jobs/${blocker.id}/cancel`)).status).toBe(202);
    await Promise.all([low, firstMiddle, secondMiddle, high].map((j) => t.waitForJob(j.id, "DONE")));
    const order = await Promise.all([high, firstMiddle, secondMiddle, low].map((j) => startedAt(j.id)));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    await waitFor("the blocker to end", async () => ((await t.get(blocker.id)).status === "CANCELLED" ? true : undefined));
  });
});
