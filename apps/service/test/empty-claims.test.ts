import { sampleSum } from "./support/prometheus-text";
import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  // The safety poll announces work on purpose every interval: a minute away, it stays out of the counts.
  t = await startTestService("empty-claims", { POLL_INTERVAL_MS: "60000", CPU_THREADS: "2", IO_THREADS: "1" });
});
afterAll(async () => {
  await t.stop();
});

/** Claims made per pool from now until stop(), as an operator reads them from /metrics (hash jobs run on the cpu pool, noop on the io pool). */
async function countClaims(): Promise<{ stop(): Promise<{ cpu: number; io: number }> }> {
  const claimsByPool = async () => {
    const text = (await t.http.get("/metrics")).text;
    return { cpu: sampleSum(text, "taskq_claims_total", { pool: "cpu" }), io: sampleSum(text, "taskq_claims_total", { pool: "io" }) };
  };
  const before = await claimsByPool();
  return {
    async stop() {
      const after = await claimsByPool();
      return { cpu: after.cpu - before.cpu, io: after.io - before.io };
    },
  };
}

describe("a kind whose queue was found empty claims again only once work is announced", () => {
  test("hash jobs finishing one by one refill the cpu slots without an io claim each", async () => {
    const claims = await countClaims();
    const res = await t.http.post("/jobs/batch").send({ jobs: Array.from({ length: 12 }, () => ({ type: "hash", payload: { data: "x", iterations: 2_000 } })) });
    expect(res.status).toBe(202);
    await Promise.all((res.body.jobs as { id: string }[]).map((j) => t.waitForJob(j.id, "DONE")));
    const { io, cpu } = await claims.stop();
    // The batch announced hash jobs only: no io claim but, at most, the service's first round
    // if it was still under way. Before, every freed cpu slot made one.
    expect(io).toBeLessThanOrEqual(1);
    // Two slots for twelve jobs: refills kept claiming while cpu work was left.
    expect(cpu).toBeGreaterThanOrEqual(6);
  });

  test("single io submissions make io claims only: no cpu claim runs before the one that finds the job", async () => {
    const claims = await countClaims();
    for (let i = 0; i < 5; i++) {
      const job = await t.submit({ type: "noop", payload: {} });
      await t.waitForJob(job.id, "DONE");
    }
    const { io, cpu } = await claims.stop();
    expect(cpu).toBe(0);
    expect(io).toBeGreaterThanOrEqual(5);
  });

  test("work submitted after both kinds were found empty is claimed at once, not at the safety poll", async () => {
    const job = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(job.id, "DONE", 10_000);
  });
});
