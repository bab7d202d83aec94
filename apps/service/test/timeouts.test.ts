import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

let t: TestService;
const CPU_THREADS = 2;
const IO_THREADS = 1;
beforeAll(async () => {
  t = await startTestService("timeouts", { CPU_THREADS: String(CPU_THREADS), IO_THREADS: String(IO_THREADS), IO_CONCURRENCY_PER_THREAD: "4" });
});
afterAll(async () => {
  await t.stop();
});

const fullPool = () => waitFor("the pool to be back to full size", () => (t.service.worker!.pools.threadCount() === CPU_THREADS + IO_THREADS ? true : undefined));

describe("timeouts", () => {
  test("io jobs share their thread while each has a timeout: four jobs that wait for one another all complete", async () => {
    const jobs = await Promise.all([1, 2, 3, 4].map(() => t.submit({ type: "chaos", payload: { mode: "barrier", parties: 4 }, timeout_ms: 30_000, max_attempts: 1 })));
    for (const job of jobs) expect((await t.waitForJob(job.id, "DONE", 40_000)).result).toEqual({ met: 4 });
  });

  test("a handler stuck in while(true) is timed out, its thread is replaced, and the next jobs still run", async () => {
    const stuck = await t.submit({ type: "chaos", payload: { mode: "spin" }, timeout_ms: 200, max_attempts: 1 });
    const failed = await t.waitForJob(stuck.id, "FAILED");
    expect(failed.error).toMatchObject({ name: "TimeoutError", message: "Job exceeded its timeout of 200 ms", attempt: 1 });
    await fullPool();
    const next = await Promise.all([1, 2, 3].map(() => t.submit({ type: "sleep", payload: { ms: 10 } })));
    for (const job of next) await t.waitForJob(job.id, "DONE");
  });

  test("after a timeout the pool keeps its full capacity: CPU jobs still run on every thread at once", async () => {
    const stuck = await t.submit({ type: "chaos", payload: { mode: "spin" }, timeout_ms: 100, max_attempts: 1 });
    await t.waitForJob(stuck.id, "FAILED");
    await fullPool();
    const jobs = await Promise.all([1, 2, 3, 4].map((i) => t.submit({ type: "hash", payload: { data: `t${i}`, iterations: 150_000 } })));
    const done = await Promise.all(jobs.map((j) => t.waitForJob(j.id, "DONE", 60_000)));
    const spans = done.map((j) => [Date.parse(j.started_at!), Date.parse(j.finished_at!)] as const);
    expect(spans.some(([s1, e1], i) => spans.some(([s2, e2], k) => k !== i && s1 < e2 && s2 < e1))).toBe(true);
  });

  test("a timed-out attempt is retried while attempts remain, each with a TimeoutError", async () => {
    const stuck = await t.submit({ type: "chaos", payload: { mode: "spin" }, timeout_ms: 100, max_attempts: 2 });
    const failed = await t.waitForJob(stuck.id, "FAILED");
    expect(failed.attempts).toBe(2);
    expect(failed.error_history.map((e) => e.name)).toEqual(["TimeoutError", "TimeoutError"]);
  });

  test("a handler that honours its signal stops at the timeout without losing its thread", async () => {
    await fullPool();
    const threadsBefore = t.service.worker!.pools.threadCount();
    const slow = await t.submit({ type: "sleep", payload: { ms: 60_000 }, timeout_ms: 200, max_attempts: 1 });
    const failed = await t.waitForJob(slow.id, "FAILED");
    expect(failed.error).toMatchObject({ name: "TimeoutError" });
    expect(t.service.worker!.pools.threadCount()).toBe(threadsBefore);
  });

  test("a job sharing its thread with a stuck one is given back, not charged, and completes", async () => {
    const neighbour = await t.submit({ type: "sleep", payload: { ms: 1_500 }, max_attempts: 1 });
    await t.waitForJob(neighbour.id, "RUNNING");
    const stuck = await t.submit({ type: "chaos", payload: { mode: "spin" }, timeout_ms: 100, max_attempts: 1 });
    await t.waitForJob(stuck.id, "FAILED");
    const done = await t.waitForJob(neighbour.id, "DONE");
    expect(done.attempts).toBe(1);
  });
});

describe("a retry claimed again before its previous attempt's outcome has been handled", () => {
  test("the new attempt is still timed out and its thread terminated: the job ends FAILED, not RUNNING for ever", async () => {
    const { store } = t.service;
    const settle = store.settle.bind(store);
    let jobId = "";
    // Holds the first attempt's recorded retry until the safety poll has claimed the job again,
    // the order a loaded machine can produce on its own.
    store.settle = async (settlements) => {
      const held = await settle(settlements);
      if (settlements.some((s) => s.id === jobId && s.end === "retry")) {
        await waitFor("the second attempt to be claimed", async () => ((await store.get(jobId))?.attempts === 2 ? true : undefined));
      }
      return held;
    };
    try {
      const stuck = await t.submit({ type: "chaos", payload: { mode: "spin" }, timeout_ms: 100, max_attempts: 2 });
      jobId = stuck.id;
      const failed = await t.waitForJob(stuck.id, "FAILED");
      expect(failed.error_history.map((e) => [e.attempt, e.name])).toEqual([
        [1, "TimeoutError"],
        [2, "TimeoutError"],
      ]);
      await fullPool();
    } finally {
      store.settle = settle;
    }
  });
});
