import { startTestService } from "./support/test-service";

describe("a failed handler's stack", () => {
  test("is stored with the job but not shown to clients by default", async () => {
    const t = await startTestService("stack_hidden");
    try {
      const job = await t.submit({ type: "fail", payload: { message: "kaput" } });
      const failed = await t.waitForJob(job.id, "FAILED");
      expect(failed.error).not.toHaveProperty("stack");
      const row = await t.service.store.get(job.id);
      expect((JSON.parse(row!.error!) as { stack: string }).stack).toMatch(/kaput[\s\S]*fail\.handler/);
    } finally {
      await t.stop();
    }
  });

  test("is returned when the operator sets EXPOSE_ERROR_STACK=true", async () => {
    const t = await startTestService("stack_shown", { EXPOSE_ERROR_STACK: "true" });
    try {
      const job = await t.submit({ type: "fail", payload: { message: "kaput" } });
      const failed = await t.waitForJob(job.id, "FAILED");
      expect(failed.error?.stack).toMatch(/fail\.handler/);
      expect(failed.error_history[0]?.stack).toMatch(/fail\.handler/);
    } finally {
      await t.stop();
    }
  });
});
