import type { Worker } from "node:worker_threads";
import request from "supertest";
import type { JobResource } from "../../core/src/jobs/job";
import type { Service } from "../src/service";
import { startServiceKeepingLogs } from "./support/logged-service";
import { createTestDatabase, type TestDatabase, testDialect } from "../../../testing/test-database";
import { startTestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

/** What an out-of-memory end or a crash of either thread looks like (both are private to SqliteWriter). */
function writerThreads(service: Service): { worker: Worker; checkpointer: Worker } {
  return service.store.db.writer as unknown as { worker: Worker; checkpointer: Worker };
}

function jobOf(service: Service, id: string): Promise<JobResource> {
  return request(`http://127.0.0.1:${service.port}`)
    .get(`/jobs/${id}`)
    .then((res) => res.body as JobResource);
}

const describeSqlite = testDialect === "sqlite" ? describe : describe.skip;

describeSqlite("a SQLite thread of the service dies", () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase("sqlite_threads");
  });
  afterEach(async () => {
    await db.drop();
  });

  test("the checkpointer: the service warns once and goes on storing and running jobs", async () => {
    const { service, lines } = await startServiceKeepingLogs(db, { WORKER_ID: "test-checkpointer-dies" });
    try {
      await writerThreads(service).checkpointer.terminate();
      const warning = await waitFor("the checkpointer's warning", () => lines.find((l) => l.message === "the SQLite checkpointer thread stopped; the writer checkpoints its own commits from now on"));
      expect(warning).toMatchObject({ level: "warn", error: expect.objectContaining({ message: expect.stringContaining("exited") }) });

      const submitted = await request(`http://127.0.0.1:${service.port}`).post("/jobs").send({ type: "noop" });
      expect(submitted.status).toBe(202);
      await waitFor("the job submitted afterwards to be DONE", async () => ((await jobOf(service, submitted.body.id)).status === "DONE" ? true : undefined));
      expect(lines.filter((l) => l.level === "warn" || l.level === "error")).toHaveLength(1);
    } finally {
      await service.stop();
    }
  });

  test("the writer: the service says why and stops itself; the next one under its WORKER_ID takes back the job it left RUNNING", async () => {
    const env = { WORKER_ID: "test-writer-dies", SHUTDOWN_GRACE_MS: "200" };
    const { service, lines } = await startServiceKeepingLogs(db, env);
    const submitted = await request(`http://127.0.0.1:${service.port}`).post("/jobs").send({ type: "sleep", payload: { ms: 1_000 } });
    expect(submitted.status).toBe(202);
    await waitFor("the job to be RUNNING", async () => ((await jobOf(service, submitted.body.id)).status === "RUNNING" ? true : undefined));

    await writerThreads(service).worker.terminate();
    // The job's give-back can no longer be written, and is not retried for a lease's length (30 s here).
    const reason = await service.stoppedByFault;
    expect(reason.message).toMatch(/writer thread exited/);
    expect(lines).toContainEqual(expect.objectContaining({ level: "error", message: "the SQLite writer thread stopped; stopping the service" }));
    expect(service.server.listening).toBe(false);
    expect(lines.filter((l) => l.message === "recording an outcome failed; retrying")).toEqual([]);

    const next = await startTestService("sqlite_threads_next", env, db);
    try {
      const done = await next.waitForJob(submitted.body.id, "DONE");
      expect(done).toMatchObject({ attempts: 2, result: { slept_ms: 1_000 } });
      expect(done.error_history).toHaveLength(1);
    } finally {
      await next.stop();
    }
  });
});
