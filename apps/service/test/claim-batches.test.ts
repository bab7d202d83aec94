import { sample } from "./support/prometheus-text";
import { startTestService, type TestService } from "./support/test-service";

/** Claims take at most half of it: 2, and the metric's buckets 1 and 2 tell a claim of 2 from every smaller one. */
const SLOTS = 4;
let t: TestService;
beforeAll(async () => {
  t = await startTestService("claim-batches", { POLL_INTERVAL_MS: "60000", IO_THREADS: "1", IO_CONCURRENCY_PER_THREAD: String(SLOTS) });
});
afterAll(async () => {
  await t.stop();
});

/** The io pool's claim sizes as an operator reads them: how many claims took jobs, and how many took at most `le`. */
async function ioClaimSizes(): Promise<{ count: number; atMost(le: number): number }> {
  const text = (await t.http.get("/metrics")).text;
  return {
    count: sample(text, "taskq_claim_size_count", { pool: "io" }),
    atMost: (le) => sample(text, "taskq_claim_size_bucket", { pool: "io", le: String(le) }),
  };
}

describe("a pool is refilled in staggered claims of at most half its slots", () => {
  test("no claim takes more than half the io slots, and every slot is still used", async () => {
    const before = await ioClaimSizes();
    const res = await t.http.post("/jobs/batch").send({ jobs: Array.from({ length: 5 * SLOTS }, () => ({ type: "sleep", payload: { ms: 150 } })) });
    expect(res.status).toBe(202);
    const ids = (res.body.jobs as { id: string }[]).map((j) => j.id);
    await Promise.all(ids.map((id) => t.waitForJob(id, "DONE")));
    const after = await ioClaimSizes();

    const claims = after.count - before.count;
    // Every claim took at most SLOTS / 2 jobs, and some took exactly that many.
    expect(after.atMost(SLOTS / 2) - before.atMost(SLOTS / 2)).toBe(claims);
    expect(after.atMost(SLOTS / 2 - 1) - before.atMost(SLOTS / 2 - 1)).toBeLessThan(claims);
    // Two claims fill the pool: at some moment all SLOTS jobs ran at once.
    const runs = await Promise.all(ids.map(async (id) => (await t.http.get(`/jobs/${id}`)).body as { started_at: string; finished_at: string }));
    const spans = runs.map((r) => [Date.parse(r.started_at), Date.parse(r.finished_at)] as const);
    const mostAtOnce = Math.max(...spans.map(([start]) => spans.filter(([s, f]) => s <= start && start < f).length));
    expect(mostAtOnce).toBe(SLOTS);
  });
});
