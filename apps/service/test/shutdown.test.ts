import type { JobResource, JobRow } from "../../core/src/jobs/job";
import { createTestDatabase, type TestDatabase } from "../../../testing/test-database";
import { startTestService } from "./support/test-service";

/**
 * Starts a service on `db` with `env`, submits `body`, waits until it runs, stops the service,
 * and returns the job (and its row) as a fresh API-only service reads it afterwards.
 */
async function jobAfterStop(db: TestDatabase, name: string, env: Record<string, string>, body: unknown): Promise<{ job: JobResource; row: JobRow }> {
  const first = await startTestService(name, env, db);
  const submitted = await first.submit(body);
  await first.waitForJob(submitted.id, "RUNNING");
  await first.stop();
  const reader = await startTestService(`${name}_reader`, { ROLE: "api" }, db);
  try {
    return { job: await reader.get(submitted.id), row: (await reader.service.store.get(submitted.id))! };
  } finally {
    await reader.stop();
  }
}

describe("shutdown", () => {
  test("a job still running when the grace period ends is given back PENDING, uncharged, and a restarted service completes it", async () => {
    const db = await createTestDatabase("shutdown_give_back");
    try {
      const { job, row } = await jobAfterStop(db, "shutdown_give_back", { SHUTDOWN_GRACE_MS: "200" }, { type: "sleep", payload: { ms: 3_000 } });
      expect(job).toMatchObject({ status: "PENDING", attempts: 0, error: null, error_history: [] });
      expect(row).toMatchObject({ lockedBy: null, lockToken: null });

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
      const { job } = await jobAfterStop(db, "shutdown_drain", { SHUTDOWN_GRACE_MS: "30000" }, { type: "sleep", payload: { ms: 1_000 } });
      expect(job).toMatchObject({ status: "DONE", attempts: 1 });
    } finally {
      await db.drop();
    }
  });

  test("a handler that ignores the shutdown signal has its thread terminated; its job is given back uncharged", async () => {
    const db = await createTestDatabase("shutdown_ignore");
    try {
      const { job } = await jobAfterStop(db, "shutdown_ignore", { SHUTDOWN_GRACE_MS: "200", ABORT_GRACE_MS: "200" }, { type: "chaos", payload: { mode: "ignore_abort", ms: 60_000 } });
      expect(job).toMatchObject({ status: "PENDING", attempts: 0 });
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
