import { nowMs } from "../../core/src/time";
import { createTestDatabase } from "../../../testing/test-database";
import { startTestService } from "./support/test-service";

describe("work survives a restart of the service", () => {
  test("a job running at a graceful stop is given back uncharged and completes after the restart", async () => {
    const db = await createTestDatabase("restart_graceful");
    const env = { WORKER_ID: "restart-graceful", SHUTDOWN_GRACE_MS: "50", ABORT_GRACE_MS: "100" };
    const first = await startTestService("restart_graceful", env, db);
    const job = await first.submit({ type: "sleep", payload: { ms: 1_500 } });
    await first.waitForJob(job.id, "RUNNING");
    await first.stop();
    const second = await startTestService("restart_graceful_2", env, db);
    try {
      const done = await second.waitForJob(job.id, "DONE");
      expect(done.attempts).toBe(1);
    } finally {
      await second.stop();
      await db.drop();
    }
  });

  test("a job left RUNNING by a crashed process is taken back on start-up under the same WORKER_ID and completes", async () => {
    const db = await createTestDatabase("restart_crash");
    const api = await startTestService("restart_crash_api", { ROLE: "api" }, db);
    const job = await api.submit({ type: "noop", payload: {} });
    // What a SIGKILL leaves behind: the row RUNNING under our lease, far from expiring.
    await api.service.store.db.prisma.job.update({
      where: { id: job.id },
      data: { status: "RUNNING", attempts: 1, lockedBy: "restart-crash", lockToken: "lost", leaseExpiresAt: nowMs() + 3_600_000 },
    });
    await api.stop();
    const worker = await startTestService("restart_crash_worker", { WORKER_ID: "restart-crash" }, db);
    try {
      const done = await worker.waitForJob(job.id, "DONE");
      expect(done.attempts).toBe(2);
      expect(done.error_history.map((e) => e.name)).toEqual(["WorkerLostError"]);
    } finally {
      await worker.stop();
      await db.drop();
    }
  });
});
