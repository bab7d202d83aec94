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
    await expect(pools.run("io", { jobId: "j", type: "noop", payload: "{}", attempt: 1 })).resolves.toMatchObject({ ok: true });
  });
});
