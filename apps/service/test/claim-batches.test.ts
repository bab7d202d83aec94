import type { JobStore } from "../../core/src/store/job-store";
import { startTestService, type TestService } from "./support/test-service";

const SLOTS = 8;
let t: TestService;
beforeAll(async () => {
  t = await startTestService("claim-batches", { POLL_INTERVAL_MS: "60000", IO_THREADS: "1", IO_CONCURRENCY_PER_THREAD: String(SLOTS) });
});
afterAll(async () => {
  await t.stop();
});

/** The limit of every io claim (the pool that runs `sleep`) the dispatcher makes, from now until stop(). */
function recordIoClaimLimits(store: JobStore): { limits: number[]; stop(): void } {
  const limits: number[] = [];
  const original = store.claimBatch;
  Object.assign(store, {
    claimBatch: (args: Parameters<JobStore["claimBatch"]>[0]) => {
      if (args.types.includes("sleep")) limits.push(args.limit);
      return original.call(store, args);
    },
  });
  return { limits, stop: () => Object.assign(store, { claimBatch: original }) };
}

describe("a pool is refilled in staggered claims of at most half its slots", () => {
  test("no claim asks for more than half the io slots, and every slot is still used", async () => {
    const claims = recordIoClaimLimits(t.service.store);
    const res = await t.http.post("/jobs/batch").send({ jobs: Array.from({ length: 5 * SLOTS }, () => ({ type: "sleep", payload: { ms: 150 } })) });
    expect(res.status).toBe(202);
    const ids = (res.body.jobs as { id: string }[]).map((j) => j.id);
    await Promise.all(ids.map((id) => t.waitForJob(id, "DONE")));
    claims.stop();

    expect(Math.max(...claims.limits)).toBe(SLOTS / 2);
    // Two claims fill the pool: at some moment all SLOTS jobs ran at once.
    const runs = await Promise.all(ids.map(async (id) => (await t.http.get(`/jobs/${id}`)).body as { started_at: string; finished_at: string }));
    const spans = runs.map((r) => [Date.parse(r.started_at), Date.parse(r.finished_at)] as const);
    const mostAtOnce = Math.max(...spans.map(([start]) => spans.filter(([s, f]) => s <= start && start < f).length));
    expect(mostAtOnce).toBe(SLOTS);
  });
});
