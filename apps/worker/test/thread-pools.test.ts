import { loadConfig } from "../../core/src/config";
import { ThreadPools } from "../src/thread-pools";

/** Real Piscina threads loading the compiled thread.js, as in production. */
describe("ThreadPools.whenLoaded", () => {
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "error", CPU_THREADS: "2", IO_THREADS: "1", DATABASE_URL: "file:unused.db" });
  let pools: ThreadPools;
  beforeEach(() => {
    pools = new ThreadPools(config, () => undefined);
  });
  afterEach(async () => {
    await pools.close();
  });

  test("waits for every thread of both pools to report that its module has loaded", async () => {
    // No thread can load within 0 ms: a whenLoaded that did not wait for all three would resolve here.
    await expect(pools.whenLoaded(0)).rejects.toThrow("worker threads: 0 of 3 loaded within 0 ms");
    await pools.whenLoaded(30_000);
    expect(pools.threadCount()).toBe(3);
    const slot = pools.takeSlot("io");
    await expect(pools.run("io", { jobId: "j", type: "noop", payload: "{}", attempt: 1, slot })).resolves.toMatchObject({ ok: true });
  });
});

describe("ThreadPools slots", () => {
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "error", CPU_THREADS: "1", IO_THREADS: "1", IO_CONCURRENCY_PER_THREAD: "2", DATABASE_URL: "file:unused.db" });
  let pools: ThreadPools;
  beforeEach(() => {
    pools = new ThreadPools(config, () => undefined);
  });
  afterEach(async () => {
    await pools.close();
  });

  test("the thread that runs an attempt records itself in the attempt's slot; a slot taken again starts empty", async () => {
    const slot = pools.takeSlot("cpu");
    expect(pools.threadRunning(slot)).toBeNull();
    await expect(pools.run("cpu", { jobId: "j", type: "noop", payload: "{}", attempt: 1, slot })).resolves.toMatchObject({ ok: true });
    const threadId = pools.threadRunning(slot);
    expect(threadId).toBeGreaterThan(0);
    // It is that pool's thread: terminating it by that id works (and Piscina replaces it).
    expect(pools.terminateThread(threadId!)).toBe(true);
    pools.releaseSlot("cpu", slot);
    expect(pools.threadRunning(pools.takeSlot("cpu"))).toBeNull();
  });

  test("there are exactly as many slots of a kind as jobs the pool runs at once", () => {
    const io = [pools.takeSlot("io"), pools.takeSlot("io")];
    expect(() => pools.takeSlot("io")).toThrow("no free io slot");
    expect(new Set([...io, pools.takeSlot("cpu")]).size).toBe(3);
    pools.releaseSlot("io", io[0]!);
    expect(pools.takeSlot("io")).toBe(io[0]);
  });
});

describe("ThreadPools io batches", () => {
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "error", CPU_THREADS: "1", IO_THREADS: "1", IO_CONCURRENCY_PER_THREAD: "8", DATABASE_URL: "file:unused.db" });
  let pools: ThreadPools;
  beforeEach(() => {
    pools = new ThreadPools(config, () => undefined);
  });
  afterEach(async () => {
    await pools.close();
  });

  const task = (jobId: string, type: string, payload: unknown) => ({ jobId, type, payload: JSON.stringify(payload), attempt: 1, slot: pools.takeSlot("io") });

  test("jobs launched together each get their outcome when they end: a slow one does not hold back the others", async () => {
    await pools.whenLoaded(30_000);
    let slowEnded = false;
    const slowTask = task("slow", "sleep", { ms: 60_000 });
    const slow = pools.run("io", slowTask).finally(() => (slowEnded = true));
    const quick = [pools.run("io", task("a", "noop", {})), pools.run("io", task("b", "fail", { message: "no" })), pools.run("io", task("c", "noop", {}))];
    const [a, b, c] = await Promise.all(quick);
    expect(a).toMatchObject({ ok: true });
    expect(b).toMatchObject({ ok: false, error: { message: "no" } });
    expect(c).toMatchObject({ ok: true });
    expect(slowEnded).toBe(false);
    // A thread that dies rejects the jobs of its batch that had not ended.
    expect(pools.terminateThread(pools.threadRunning(slowTask.slot)!)).toBe(true);
    await expect(slow).rejects.toThrow();
  });
});
