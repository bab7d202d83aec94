import type { JobStore } from "../../core/src/store/job-store";
import { openStore } from "../../../testing/open-store";
import { type ServiceProcess, startServiceProcess, stopAll, submitTo, withOutputOf } from "./support/service-process";
import { createTestDatabase, type TestDatabase, testDialect } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";
import { holdJobsWriteLock } from "./support/jobs-write-lock";
import { sample } from "./support/prometheus-text";

/**
 * A worker process frozen (SIGSTOP) past its lease while it runs jobs, as a long GC pause, a
 * stalled VM or a debugger would freeze it: another worker takes the jobs over and finishes
 * them; once thawed, the frozen one records nothing of them and, told to stop, stops cleanly.
 *
 * Thawed, the worker sends a heartbeat at once (its timer is overdue), then its handlers return
 * and it sends their outcomes. The test holds the jobs' write lock across the thaw until every
 * handler has returned, so that the heartbeat's answer (no lease held) always arrives while
 * the outcomes are still being recorded: the order in which an abort used to be armed for an
 * attempt that had already ended, leaving a timer that crashed the worker's stop.
 */
const LEASE_MS = 3_000;
const JOBS = 20;
/** Long enough that the test, polling, sees the worker hold every job at once even on a loaded machine. */
const SLEEP_MS = 4_000;

let db: TestDatabase;
let observer: JobStore;
const processes: ServiceProcess[] = [];

const env = (role: "api" | "worker", extra: Record<string, string> = {}) => ({
  ROLE: role,
  DATABASE_URL: db.url,
  LEASE_MS: String(LEASE_MS),
  REAPER_INTERVAL_MS: "500",
  // Writes wait out the test's lock rather than fail.
  SQLITE_BUSY_TIMEOUT_MS: "60000",
  // What a worker discards is logged as a warning: the test counts those lines.
  LOG_LEVEL: "warn",
  ...extra,
});

/** One connection on PostgreSQL, so that the worker's statements run in the order it sends them, as SQLite's writer thread runs them. */
function oneConnection(url: string): string {
  if (testDialect !== "postgresql") return url;
  const u = new URL(url);
  u.searchParams.set("connection_limit", "1");
  return u.toString();
}

beforeAll(async () => {
  db = await createTestDatabase("paused_worker");
  processes.push(...(await Promise.all([startServiceProcess("api", env("api")), startServiceProcess("paused", env("worker", { DATABASE_URL: oneConnection(db.url) }))])));
  observer = await openStore(db.url);
  // Its first query loads Prisma's query compiler: not while the jobs run.
  await observer.countByStatus();
}, 180_000);

afterAll(async () => {
  await stopAll(processes);
  await observer?.close();
  await db?.drop();
}, 60_000);

describe("a worker paused past its lease", () => {
  test("another worker finishes its jobs; thawed, it records none of them, and SIGTERM stops it cleanly: exit 0, nothing left running", async () => {
    const [api, paused] = processes as [ServiceProcess, ServiceProcess];
    const jobs = await submitTo(api, "/jobs/batch", { jobs: Array.from({ length: JOBS }, () => ({ type: "sleep", payload: { ms: SLEEP_MS } })) });
    await withOutputOf(processes, () =>
      waitFor("the worker to hold every job", async () => ((await observer.db.prisma.job.count({ where: { status: "RUNNING", lockedBy: "paused" } })) === JOBS ? true : undefined), {
        timeoutMs: 30_000,
      }),
    );
    paused.signal("SIGSTOP");
    let lock: { release(): Promise<void> } | null = null;
    try {
      processes.push(await startServiceProcess("rescuer", env("worker")));
      const done = await withOutputOf(processes, () =>
        waitFor("the other worker to finish every job", async () => {
          const rows = await observer.getMany(jobs.map((j) => j.id));
          return rows.every((r) => r.status === "DONE") ? rows : undefined;
        }, { timeoutMs: 90_000, intervalMs: 100 }),
      );
      // Each ran a second time, elsewhere: the reaper charged the attempt the frozen worker lost.
      expect(done.map((r) => [r.attempts, r.lockedBy])).toEqual(jobs.map(() => [2, null]));

      lock = await holdJobsWriteLock(db.url);
      paused.signal("SIGCONT");
      await withOutputOf(processes, () =>
        waitFor("every handler of the thawed worker to return", async () => {
          const res = await fetch(`${paused.baseUrl}/metrics`);
          return res.status === 200 && sample(await res.text(), "taskq_pool_busy_slots", { pool: "io" }) === 0 ? true : undefined;
        }, { timeoutMs: 30_000, intervalMs: 50 }),
      );
    } finally {
      paused.signal("SIGCONT");
      await lock?.release();
    }

    // Its outcomes meet leases that are gone.
    await withOutputOf(processes, () =>
      waitFor("the thawed worker to discard every late outcome", () => (paused.output().split("outcome discarded").length - 1 >= JOBS ? true : undefined), { timeoutMs: 30_000 }),
    );
    const rows = await observer.getMany(jobs.map((j) => j.id));
    expect(rows.map((r) => [r.status, r.attempts])).toEqual(jobs.map(() => ["DONE", 2]));

    await paused.stop(60_000);
    const { code, signal } = await paused.exited;
    const output = paused.output();
    // A clean stop leaves nothing running: the process ends by itself (main.ts names what it finds open otherwise).
    expect({ code, signal, leak: output.includes("did not exit by itself"), crash: /Uncaught|InvalidStateError|BroadcastChannel is closed/.test(output) }).toEqual({
      code: 0,
      signal: null,
      leak: false,
      crash: false,
    });
  }, 240_000);
});
