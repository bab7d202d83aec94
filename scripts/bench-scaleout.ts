/**
 * Separate API and worker processes on one database: pickup latency and throughput.
 *
 *   npm run bench:scaleout -- sqlite        # 1 API + 3 workers on one SQLite file (WAL)
 *   npm run bench:scaleout -- postgresql    # 2 APIs + 3 workers on PostgreSQL (TEST_POSTGRES_URL)
 *   WORKERS=0 npm run bench:scaleout -- sqlite   # baseline: all-in-one process(es), same measurements
 *
 * Pickup latency: SEQUENTIAL noop submissions, one at a time (each waits for the previous to
 * finish), so every job is picked up by an idle worker in another process; latency is
 * started_at − created_at from the job rows (created_at is taken by the API before its insert
 * commits, started_at by the worker's claim). Throughput: BATCH_JOBS noop jobs submitted in
 * batches of 500 spread over the API processes, counted from the first created_at to the last
 * finished_at. Prints a table and writes bench-results/scaleout-<dialect>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../apps/core/src/paths";
import { openStore } from "../testing/open-store";
import { type ServiceProcess, startServiceProcess, stopAll, submitTo } from "../testing/service-process";
import { createTestDatabase, type TestDialect } from "../testing/test-database";
import { waitFor } from "../testing/wait";

const dialect = (process.argv[2] ?? "sqlite") as TestDialect;
const SEQUENTIAL = Number(process.env.SEQUENTIAL ?? 300);
const BATCH_JOBS = Number(process.env.BATCH_JOBS ?? 5_000);
const BATCH = 500;
const APIS = dialect === "sqlite" ? 1 : 2;
const WORKERS = Number(process.env.WORKERS ?? 3);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  if (dialect !== "sqlite" && dialect !== "postgresql") throw new Error("usage: bench-scaleout sqlite|postgresql");
  const db = await createTestDatabase(`bench_${dialect}`, dialect);
  const env = (role: string) => ({ ROLE: role, DATABASE_URL: db.url, LOG_LEVEL: "warn", CPU_THREADS: "1", IO_THREADS: "1", POLL_INTERVAL_MS: "1000" });
  const processes: ServiceProcess[] = [];
  try {
    // WORKERS=0: one all-in-one process, the baseline the separate processes are compared with.
    processes.push(...(await Promise.all(Array.from({ length: APIS }, (_, i) => startServiceProcess(`api-${i + 1}`, env(WORKERS === 0 ? "all" : "api"))))));
    processes.push(...(await Promise.all(Array.from({ length: WORKERS }, (_, i) => startServiceProcess(`worker-${i + 1}`, env("worker"))))));
    const apis = processes.slice(0, APIS);
    const store = await openStore(db.url);

    const latencies: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const [job] = await submitTo(apis[i % APIS]!, "/jobs", { type: "noop", payload: {} });
      const row = await waitFor("a sequential job", async () => {
        const r = await store.get(job!.id);
        return r?.status === "DONE" ? r : undefined;
      }, { timeoutMs: 30_000, intervalMs: 1 });
      latencies.push(row.startedAt! - row.createdAt);
    }
    latencies.sort((a, b) => a - b);

    const started = Date.now();
    const ids = (
      await Promise.all(
        Array.from({ length: BATCH_JOBS / BATCH }, (_, b) => submitTo(apis[b % APIS]!, "/jobs/batch", { jobs: Array.from({ length: BATCH }, () => ({ type: "noop", payload: {} })) })),
      )
    ).flat();
    await waitFor("every batch job to be DONE", async () => ((await store.countByStatus()).DONE === SEQUENTIAL + ids.length ? true : undefined), { timeoutMs: 600_000, intervalMs: 50 });
    const wallMs = Date.now() - started;
    const rows = await store.getMany(ids.map((j) => j.id));
    const firstCreated = Math.min(...rows.map((r) => r.createdAt));
    const lastFinished = Math.max(...rows.map((r) => r.finishedAt!));
    await store.close();

    const result = {
      dialect,
      topology: WORKERS === 0 ? `${APIS} all-in-one (CPU_THREADS=1, IO_THREADS=1 each)` : `${APIS} API + ${WORKERS} workers (CPU_THREADS=1, IO_THREADS=1 each)`,
      machine: { cpus: cpus().length, node: process.version },
      pickupLatencyMs: { n: latencies.length, p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] },
      throughput: { jobs: rows.length, jobsPerSecond: Math.round(rows.length / ((lastFinished - firstCreated) / 1000)), wallMs },
    };
    const r = (n: number) => n.toFixed(2);
    process.stdout.write(
      [
        `taskq scale-out — ${result.topology}, ${dialect}`,
        `pickup latency (submit → RUNNING), ${latencies.length} sequential jobs: p50 ${r(result.pickupLatencyMs.p50)} ms  p90 ${r(result.pickupLatencyMs.p90)} ms  p99 ${r(result.pickupLatencyMs.p99)} ms  max ${r(result.pickupLatencyMs.max!)} ms`,
        `throughput: ${rows.length} noop jobs in ${(lastFinished - firstCreated).toFixed(0)} ms (first created → last finished) = ${result.throughput.jobsPerSecond} jobs/s; wall ${wallMs} ms`,
        "",
      ].join("\n"),
    );
    const out = join(projectRoot(), "bench-results");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `scaleout-${dialect}.json`), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await stopAll(processes);
    await db.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
