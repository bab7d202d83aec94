import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

const CPU_THREADS = 1;
const IO_THREADS = 1;
let t: TestService;
beforeAll(async () => {
  t = await startTestService("thread_crashes", { CPU_THREADS: String(CPU_THREADS), IO_THREADS: String(IO_THREADS), THREAD_MAX_OLD_GENERATION_MB: "32" });
});
afterAll(async () => {
  await t.stop();
});

async function expectHealthyAndDraining(): Promise<void> {
  await waitFor("the pool to be back to full size", () => (t.service.worker!.pools.threadCount() === CPU_THREADS + IO_THREADS ? true : undefined));
  expect((await t.http.get("/readyz")).status).toBe(200);
  const next = await Promise.all([t.submit({ type: "noop", payload: {} }), t.submit({ type: "hash", payload: { data: "x", iterations: 10 } })]);
  for (const job of next) await t.waitForJob(job.id, "DONE");
}

describe("a handler that kills its thread fails its own job only", () => {
  test.each([
    ["calls process.exit", "exit", /exited with code: 3/],
    ["throws outside its promise", "uncaught", /thrown outside the handler's promise/],
    ["exhausts its memory", "oom", /memory/i],
  ])("a handler that %s: its job FAILED with ThreadCrashedError, the thread replaced, the service healthy", async (_what, mode, message) => {
    const job = await t.submit({ type: "chaos", payload: { mode }, max_attempts: 1 });
    const failed = await t.waitForJob(job.id, "FAILED", 30_000);
    expect(failed.error).toMatchObject({ name: "ThreadCrashedError", attempt: 1 });
    expect(failed.error!.message).toMatch(message);
    await expectHealthyAndDraining();
  });

  test("a crash is retried while attempts remain", async () => {
    const job = await t.submit({ type: "chaos", payload: { mode: "exit" }, max_attempts: 2 });
    const failed = await t.waitForJob(job.id, "FAILED", 30_000);
    expect(failed.attempts).toBe(2);
    expect(failed.error_history.map((e) => e.name)).toEqual(["ThreadCrashedError", "ThreadCrashedError"]);
    await expectHealthyAndDraining();
  });

  test("jobs queued behind crashing ones all reach a terminal state", async () => {
    const crashing = await Promise.all(["exit", "uncaught", "exit"].map((mode) => t.submit({ type: "chaos", payload: { mode }, max_attempts: 1 })));
    // More attempts than there are crashing jobs: each crash can cost a job on the same thread one.
    const fine = await Promise.all(Array.from({ length: 10 }, (_, i) => t.submit({ type: "sleep", payload: { ms: i }, max_attempts: 5 })));
    for (const job of crashing) await t.waitForJob(job.id, "FAILED", 30_000);
    for (const job of fine) await t.waitForJob(job.id, "DONE", 30_000);
    await expectHealthyAndDraining();
  });
});
