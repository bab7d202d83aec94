import type { JobStore } from "../../core/src/store/job-store";
import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  // The safety poll announces work on purpose every interval: a minute away, it stays out of the counts.
  t = await startTestService("empty-claims", { POLL_INTERVAL_MS: "60000", CPU_THREADS: "2", IO_THREADS: "1" });
});
afterAll(async () => {
  await t.stop();
});

/** The types of every claim the dispatcher makes, from now until stop(). */
function recordClaims(store: JobStore): { types: string[][]; stop(): void } {
  const types: string[][] = [];
  const original = store.claimBatch;
  Object.assign(store, {
    claimBatch: (args: Parameters<JobStore["claimBatch"]>[0]) => {
      types.push([...args.types]);
      return original.call(store, args);
    },
  });
  return { types, stop: () => Object.assign(store, { claimBatch: original }) };
}

describe("a kind whose queue was found empty claims again only once work is announced", () => {
  test("hash jobs finishing one by one refill the cpu slots without an io claim each", async () => {
    const claims = recordClaims(t.service.store);
    const res = await t.http.post("/jobs/batch").send({ jobs: Array.from({ length: 12 }, () => ({ type: "hash", payload: { data: "x", iterations: 2_000 } })) });
    expect(res.status).toBe(202);
    await Promise.all((res.body.jobs as { id: string }[]).map((j) => t.waitForJob(j.id, "DONE")));
    claims.stop();
    const io = claims.types.filter((types) => types.includes("noop"));
    const cpu = claims.types.filter((types) => types.includes("hash"));
    // The batch announced hash jobs only: no io claim but, at most, the service's first round
    // if it was still under way. Before, every freed cpu slot made one.
    expect(io.length).toBeLessThanOrEqual(1);
    // Two slots for twelve jobs: refills kept claiming while cpu work was left.
    expect(cpu.length).toBeGreaterThanOrEqual(6);
  });

  test("single io submissions make io claims only: no cpu claim runs before the one that finds the job", async () => {
    const claims = recordClaims(t.service.store);
    for (let i = 0; i < 5; i++) {
      const job = await t.submit({ type: "noop", payload: {} });
      await t.waitForJob(job.id, "DONE");
    }
    claims.stop();
    expect(claims.types.filter((types) => types.includes("hash"))).toEqual([]);
    expect(claims.types.filter((types) => types.includes("noop")).length).toBeGreaterThanOrEqual(5);
  });

  test("work submitted after both kinds were found empty is claimed at once, not at the safety poll", async () => {
    const job = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(job.id, "DONE", 10_000);
  });
});
