import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import type { JobStore } from "../../core/src/store/job-store";
import { openStore } from "../../../testing/open-store";
import { type ServiceProcess, startServiceProcess, stopAll, submitTo, withOutputOf } from "./support/service-process";
import { countJobsInTable, createTestDatabase, POSTGRES_TEST_URL, type TestDatabase, testDialect } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";

/**
 * Separate API and worker processes on one database: SQLite (one file, WAL) with 1 API and 3
 * workers, PostgreSQL with 2 APIs and 3 workers. The safety poll is set to a minute, so work
 * only moves between processes through the notifier (LISTEN/NOTIFY or the SQLite signals).
 */
const API_COUNT = testDialect === "sqlite" ? 1 : 2;
const WORKER_COUNT = 3;
const JOBS = 2_000;
const BATCH = 500;

let db: TestDatabase;
let dir: string;
let executionLog: string;
let observer: JobStore;
const apis: ServiceProcess[] = [];
const workers: ServiceProcess[] = [];
let hashWorker: ServiceProcess;
/** On PostgreSQL, reads which connections of a worker are busy (hasStatementsInFlight). */
let admin: Client | undefined;

const env = (role: "api" | "worker", extra: Record<string, string> = {}) => ({
  ROLE: role,
  DATABASE_URL: db.url,
  CHAOS_EXECUTION_LOG: executionLog,
  POLL_INTERVAL_MS: "60000",
  CPU_THREADS: "1",
  IO_THREADS: "1",
  IO_CONCURRENCY_PER_THREAD: "16",
  // Short enough that the test sees a killed worker's jobs recovered, long enough that a busy
  // machine never takes a live worker's lease.
  LEASE_MS: "5000",
  REAPER_INTERVAL_MS: "500",
  // Warnings too (a failed signal, a slow claim): withOutputOf shows them when a wait times out.
  LOG_LEVEL: "warn",
  ...extra,
});

beforeAll(async () => {
  db = await createTestDatabase("multiproc");
  dir = mkdtempSync(join(tmpdir(), "taskq-multiproc-"));
  executionLog = join(dir, "executions.log");
  // Every API process and the hash-only worker start at once: migrations must cope.
  const started = await Promise.all([
    ...Array.from({ length: API_COUNT }, (_, i) => startServiceProcess(`api-${i + 1}`, env("api"))),
    startServiceProcess("hash-worker", env("worker", { WORKER_JOB_TYPES: "hash" })),
  ]);
  apis.push(...started.slice(0, API_COUNT));
  hashWorker = started[API_COUNT]!;
  observer = await openStore(db.url);
  if (testDialect === "postgresql") {
    admin = new Client({ connectionString: POSTGRES_TEST_URL });
    await admin.connect();
  }
}, 180_000);

afterAll(async () => {
  await stopAll([...apis, ...workers, ...(hashWorker ? [hashWorker] : [])]);
  await observer?.close();
  await admin?.end();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const everyProcess = () => [...apis, ...workers, hashWorker];

/** A worker whose PostgreSQL connections carry its name, so the test can see what it has in flight. */
function startWorker(name: string): Promise<ServiceProcess> {
  if (testDialect !== "postgresql") return startServiceProcess(name, env("worker"));
  const url = new URL(db.url);
  url.searchParams.set("application_name", name);
  return startServiceProcess(name, env("worker", { DATABASE_URL: url.toString() }));
}

/**
 * Whether a frozen worker can still change a row. A statement it sent before SIGSTOP still runs
 * and commits on the PostgreSQL server, so its settle may land after the test looked. In SQLite
 * the writing happens inside the frozen process, so nothing lands.
 */
async function hasStatementsInFlight(name: string): Promise<boolean> {
  if (!admin) return false;
  // The states of the worker's connections, found by the name they carry (see startWorker).
  const { rows } = await admin.query<{ state: string }>("SELECT state FROM pg_stat_activity WHERE application_name = $1", [name]);
  const states = rows.map((r) => r.state);
  // No connection by that name would mean the name never reached the server, and this check saw nothing.
  if (states.length === 0) throw new Error(`no PostgreSQL connection is named ${name}`);
  return states.includes("active");
}

/** "<job id> <pid>" per execution, as the chaos handler's record mode wrote them. */
function executions(): Map<string, number[]> {
  const byJob = new Map<string, number[]>();
  if (!existsSync(executionLog)) return byJob;
  for (const line of readFileSync(executionLog, "utf8").split("\n")) {
    if (!line) continue;
    const [id, pid] = line.split(" ");
    byJob.set(id!, [...(byJob.get(id!) ?? []), Number(pid)]);
  }
  return byJob;
}

describe(`separate processes on ${testDialect}: ${API_COUNT} API, ${WORKER_COUNT} workers`, () => {
  test("every role answers /healthz and /readyz on its PORT; a worker process has no job routes", async () => {
    for (const p of [...apis, hashWorker]) {
      expect((await fetch(`${p.baseUrl}/healthz`)).status).toBe(200);
      const ready = await fetch(`${p.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({ database: "ok" });
    }
    const workerReady = (await (await fetch(`${hashWorker.baseUrl}/readyz`)).json()) as { checks: Record<string, string> };
    expect(workerReady.checks).toEqual({ database: "ok", pool: "ok" });
    const jobs = await fetch(`${hashWorker.baseUrl}/jobs`);
    expect(jobs.status).toBe(404);
    expect(jobs.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  test("a worker limited to WORKER_JOB_TYPES=hash runs a hash job submitted after a noop-like one, and never the noop-like one", async () => {
    const [light] = await submitTo(apis[0]!, "/jobs", { type: "chaos", payload: { mode: "record" } });
    const [heavy] = await submitTo(apis[apis.length - 1]!, "/jobs", { type: "hash", payload: { data: "x", iterations: 10 } });
    await withOutputOf(everyProcess(), () =>
      waitFor("the hash job to be DONE", async () => ((await observer.get(heavy!.id))?.status === "DONE" ? true : undefined), { timeoutMs: 20_000 }),
    );
    // The light job was ready first, so a worker allowed to run it would have claimed it no later than the hash job.
    expect((await observer.get(light!.id))?.status).toBe("PENDING");
    expect(executions().size).toBe(0);
  });

  test("delayed jobs submitted to an API process start on a worker process when due, not at the worker's safety poll", async () => {
    const jobs = await submitTo(apis[0]!, "/jobs/batch", { jobs: [600, 300].map((delay_ms) => ({ type: "hash", payload: { data: "later", iterations: 10 }, delay_ms })) });
    const done = await withOutputOf(everyProcess(), () =>
      waitFor("the delayed hash jobs to be DONE", async () => {
        const rows = await Promise.all(jobs.map((j) => observer.get(j.id)));
        return rows.every((row) => row?.status === "DONE") ? rows : undefined;
      }, { timeoutMs: 20_000 }),
    );
    for (const row of done) expect(row!.startedAt!).toBeGreaterThanOrEqual(row!.runAt);
  });

  test(`${JOBS} jobs submitted through every API run exactly once each; a worker SIGKILLed mid-run loses none`, async () => {
    workers.push(...(await Promise.all(Array.from({ length: WORKER_COUNT }, (_, i) => startWorker(`worker-${i + 1}`)))));
    const batches = Array.from({ length: JOBS / BATCH }, (_, b) =>
      submitTo(apis[b % apis.length]!, "/jobs/batch", { jobs: Array.from({ length: BATCH }, () => ({ type: "chaos", payload: { mode: "record", ms: 5 } })) }),
    );
    const submitted = (await Promise.all(batches)).flat();
    expect(submitted).toHaveLength(JOBS);
    // These and the earlier tests' jobs (the light one waits for these workers).
    const total = await observer.db.prisma.job.count();

    const victim = workers[0]!;
    await withOutputOf(everyProcess(), () =>
      waitFor("a fifth of the jobs to be DONE", async () => ((await observer.db.prisma.job.count({ where: { status: "DONE" } })) >= JOBS / 5 ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 20,
      }),
    );
    // Frozen, the victim holds still: it is killed only at a moment it holds jobs (between two
    // claims it may hold none), looked at once the statements it had sent have run.
    const orphaned = await waitFor("the victim, frozen, to be holding jobs", async () => {
      victim.signal("SIGSTOP");
      const settled = await waitFor("the frozen victim's statements to finish", async () => ((await hasStatementsInFlight(victim.name)) ? undefined : true), {
        timeoutMs: 2_000,
      }).catch(() => false);
      const held = settled ? await observer.db.prisma.job.findMany({ where: { status: "RUNNING", lockedBy: victim.name }, select: { id: true } }) : [];
      if (held.length > 0) return held;
      victim.signal("SIGCONT");
      return undefined;
    }, { timeoutMs: 60_000, intervalMs: 20 });
    await victim.kill("SIGKILL");

    await withOutputOf(everyProcess(), () =>
      waitFor(`all ${total} jobs to be DONE`, async () => {
        const counts = await observer.countByStatus();
        if (counts.FAILED > 0 || counts.CANCELLED > 0) throw new Error(`jobs ended badly: ${JSON.stringify(counts)}`);
        return counts.DONE === total ? true : undefined;
      }, { timeoutMs: 120_000, intervalMs: 100 }),
    );

    const rows = await observer.db.prisma.job.findMany({ where: { type: "chaos" }, select: { id: true, attempts: true } });
    expect(rows).toHaveLength(JOBS + 1);
    // Five processes changed jobs concurrently; the trigger-kept counters still match the table.
    expect(await observer.countByStatus()).toEqual(await countJobsInTable(observer));
    const runs = executions();
    const orphans = new Set(orphaned.map((o) => o.id));
    const problems = rows.flatMap(({ id, attempts }) => {
      const pids = runs.get(id) ?? [];
      const byVictim = pids.filter((p) => p === victim.pid).length;
      // A job taken from the killed worker ran at most once there (before it died) and once
      // elsewhere, and was claimed twice; every other job ran and was claimed exactly once.
      const ok = orphans.has(id) ? byVictim <= 1 && pids.length - byVictim === 1 && attempts === 2 : pids.length === 1 && attempts === 1;
      return ok ? [] : [`${id}: executed by ${JSON.stringify(pids)}, attempts ${attempts}, orphaned ${orphans.has(id)}`];
    });
    expect(problems).toEqual([]);
    expect([...runs.values()].flat()).not.toContain(hashWorker.pid);
  }, 300_000);

  test("a worker stopped by SIGTERM gives its unfinished job back, and another worker process takes it without waiting for a poll", async () => {
    const [job] = await submitTo(apis[0]!, "/jobs", { type: "chaos", payload: { mode: "record", ms: 60_000 } });
    const first = await withOutputOf(everyProcess(), () =>
      waitFor("the long job to be claimed", async () => (await observer.get(job!.id))?.lockedBy ?? undefined, { timeoutMs: 30_000 }),
    );
    const owner = workers.find((w) => w.name === first)!;
    await owner.stop();
    // The safety poll is a minute away: only the give-back's signal can make the other worker claim it this soon.
    const second = await withOutputOf(everyProcess(), () =>
      waitFor("another worker to claim the given-back job", async () => {
        const row = await observer.get(job!.id);
        return row?.status === "RUNNING" && row.lockedBy !== first ? row : undefined;
      }, { timeoutMs: 30_000 }),
    );
    expect(second.attempts).toBe(1);
  }, 120_000);
});
