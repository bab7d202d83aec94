import { startTestService } from "./support/test-service";
import { createTestDatabase } from "./support/test-database";

describe("shutdown", () => {
  test("a job still running when the grace period ends is given back PENDING, uncharged, and a restarted service completes it", async () => {
    const db = await createTestDatabase("shutdown_give_back");
    try {
      const first = await startTestService("shutdown_give_back", { SHUTDOWN_GRACE_MS: "200" }, db);
      const job = await first.submit({ type: "sleep", payload: { ms: 3_000 } });
      await first.waitForJob(job.id, "RUNNING");
      await first.stop();

      const reader = await startTestService("shutdown_give_back_reader", { ROLE: "api" }, db);
      expect(await reader.get(job.id)).toMatchObject({ status: "PENDING", attempts: 0, error: null, error_history: [] });
      expect(await reader.service.store.get(job.id)).toMatchObject({ lockedBy: null, lockToken: null });
      await reader.stop();

      const second = await startTestService("shutdown_give_back_2", {}, db);
      const done = await second.waitForJob(job.id, "DONE");
      expect(done.attempts).toBe(1);
      await second.stop();
    } finally {
      await db.drop();
    }
  });

  test("a job that finishes within the grace period is recorded DONE before the service stops", async () => {
    const db = await createTestDatabase("shutdown_drain");
    try {
      const first = await startTestService("shutdown_drain", { SHUTDOWN_GRACE_MS: "30000" }, db);
      const job = await first.submit({ type: "sleep", payload: { ms: 1_000 } });
      await first.waitForJob(job.id, "RUNNING");
      await first.stop();
      const reader = await startTestService("shutdown_drain_reader", { ROLE: "api" }, db);
      expect(await reader.get(job.id)).toMatchObject({ status: "DONE", attempts: 1 });
      await reader.stop();
    } finally {
      await db.drop();
    }
  });

  test("a handler that ignores the shutdown signal has its thread terminated; its job is given back uncharged", async () => {
    const db = await createTestDatabase("shutdown_ignore");
    try {
      const first = await startTestService("shutdown_ignore", { SHUTDOWN_GRACE_MS: "200", ABORT_GRACE_MS: "200" }, db);
      const job = await first.submit({ type: "chaos", payload: { mode: "ignore_abort", ms: 60_000 } });
      await first.waitForJob(job.id, "RUNNING");
      await first.stop();
      const reader = await startTestService("shutdown_ignore_reader", { ROLE: "api" }, db);
      expect(await reader.get(job.id)).toMatchObject({ status: "PENDING", attempts: 0 });
      await reader.stop();
    } finally {
      await db.drop();
    }
  });

  test("stop() is idempotent", async () => {
    const t = await startTestService("shutdown_twice");
    await Promise.all([t.service.stop(), t.service.stop()]);
    await t.stop();
  });
});
