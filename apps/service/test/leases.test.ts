import { randomUUID } from "node:crypto";
import { nowMs } from "../../core/src/time";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

let t: TestService;
beforeAll(async () => {
  // The orphans below carry their own expired leases; LEASE_MS only matters for live jobs, and
  // is long enough that a loaded machine's late heartbeat does not lose one.
  t = await startTestService("leases", { LEASE_MS: "4000", HEARTBEAT_MS: "200", REAPER_INTERVAL_MS: "100" });
});
afterAll(async () => {
  await t.stop();
});

const prisma = () => t.service.store.db.prisma;

/** A row as a worker that died mid-job leaves it: RUNNING, owned by someone else, lease run out. */
async function orphan(fields: { type?: string; payload?: string; attempts: number; maxAttempts: number; cancelRequested?: boolean; leaseExpiresAt?: number }): Promise<string> {
  const id = randomUUID();
  const now = nowMs();
  await prisma().job.create({
    data: {
      id,
      type: fields.type ?? "noop",
      status: "RUNNING",
      payload: fields.payload ?? "{}",
      attempts: fields.attempts,
      maxAttempts: fields.maxAttempts,
      timeoutMs: 10_000,
      runAt: now - 5_000,
      createdAt: now - 5_000,
      updatedAt: now - 5_000,
      startedAt: now - 5_000,
      lockedBy: "dead-worker",
      lockToken: randomUUID(),
      leaseExpiresAt: fields.leaseExpiresAt ?? now - 1_000,
      cancelRequested: fields.cancelRequested ?? false,
    },
  });
  return id;
}

describe("leases", () => {
  test("a RUNNING job whose worker died is reclaimed by the reaper, counted as an attempt, and runs to DONE", async () => {
    const id = await orphan({ attempts: 1, maxAttempts: 3 });
    const done = await t.waitForJob(id, "DONE");
    expect(done.attempts).toBe(2);
    expect(done.error_history).toEqual([expect.objectContaining({ name: "WorkerLostError" })]);
    expect(done.error).toBeNull();
    const row = await t.service.store.get(id);
    expect(row).toMatchObject({ lockedBy: null, lockToken: null, leaseExpiresAt: null });
  });

  test("after its last attempt a job whose worker died ends FAILED with WorkerLostError", async () => {
    const id = await orphan({ attempts: 2, maxAttempts: 2 });
    const failed = await t.waitForJob(id, "FAILED");
    expect(failed.error).toMatchObject({ name: "WorkerLostError" });
    expect(failed.attempts).toBe(2);
    expect(failed.finished_at).not.toBeNull();
  });

  test("a job whose cancel was requested before its worker died ends CANCELLED", async () => {
    const id = await orphan({ attempts: 1, maxAttempts: 3, cancelRequested: true });
    const cancelled = await t.waitForJob(id, "CANCELLED");
    expect(cancelled.error).toBeNull();
  });

  test("a live lease is left alone: the owner's heartbeat keeps it beyond LEASE_MS", async () => {
    const job = await t.submit({ type: "sleep", payload: { ms: 6_000 } });
    await t.waitForJob(job.id, "RUNNING");
    const done = await t.waitForJob(job.id, "DONE");
    expect(done.attempts).toBe(1);
    expect(done.error_history).toEqual([]);
  });

  test("a worker whose lease was taken stops the job and cannot overwrite the new owner's state", async () => {
    const job = await t.submit({ type: "sleep", payload: { ms: 60_000 } });
    await t.waitForJob(job.id, "RUNNING");
    // Another worker took the job over (as after a reclaim and a new claim).
    const thief = { lockedBy: "other-worker", lockToken: randomUUID(), leaseExpiresAt: nowMs() + 60_000 };
    await prisma().job.update({ where: { id: job.id }, data: thief });
    await waitFor("our dispatcher to stop the job", () => (t.service.worker!.dispatcher.runningCount === 0 ? true : undefined));
    const row = await t.service.store.get(job.id);
    expect(row).toMatchObject({ status: "RUNNING", ...thief });
  });

  test("settle, heartbeat and progress with an old lock token write nothing", async () => {
    const store = t.service.store;
    // A live lease, so the reaper leaves it alone; then a new owner takes it over.
    const id = await orphan({ attempts: 1, maxAttempts: 3, leaseExpiresAt: nowMs() + 60_000 });
    const current = randomUUID();
    await prisma().job.update({ where: { id }, data: { lockToken: current, lockedBy: "new-owner" } });
    const stale = { id, token: randomUUID() };
    const outcome = { ...stale, end: "done" as const, result: '"stale"', error: null, errorHistory: null, progress: null, runAt: null, finishedAt: nowMs() };
    expect(await store.settle([outcome])).toEqual(new Set());
    expect(await store.heartbeat([stale], 60_000)).toEqual([]);
    await store.saveProgress([{ ...stale, progress: "50" }]);
    expect(await store.get(id)).toMatchObject({ status: "RUNNING", result: null, progress: null, lockToken: current });
    // The holder of the current token can.
    expect(await store.settle([{ ...outcome, token: current, result: '"mine"' }])).toEqual(new Set([id]));
    expect(await store.get(id)).toMatchObject({ status: "DONE", result: '"mine"', lockToken: null });
  });
});
