/**
 * The issue's reference peer, measured on this machine: BullMQ 5 on the local Redis, with an
 * in-process processor (and, end to end, a sandboxed one in worker threads), doing what
 * `npm run bench` makes taskq do (noop jobs, same payload).
 * Issue 4 quotes BullMQ's figures from another day's machine; this puts them beside ours on the
 * same one, so the absolute targets ("≥ 2× BullMQ") can be read against today's machine.
 *
 *   npm run bench:peers            # needs Redis at REDIS_URL (default redis://127.0.0.1:6379)
 *
 * Every stage uses a queue of its own, removed afterwards. Prints one table and writes
 * bench-results/peers-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import { projectRoot } from "../apps/core/src/paths";
import { NOOP_JOB } from "./bench/load";
import { packageVersions } from "./bench/versions";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const JOBS = 20_000;
const IN_FLIGHT = 64;
const BULK = 500;
const CONCURRENCY = 64;
const PICKUP_JOBS = 500;

const connection = (() => {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
})();

let queues = 0;
/** A fresh queue for one stage, obliterated (with its jobs) when the stage ends. */
async function withQueue<T>(use: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = new Queue(`taskq-peer-${process.pid}-${++queues}`, { connection });
  try {
    return await use(queue);
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/** `count` adds from `lanes` concurrent loops; resolves when every add has been acknowledged. */
async function addAll(queue: Queue, count: number, lanes: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) {
        next++;
        await queue.add("noop", NOOP_JOB.payload);
      }
    }),
  );
}

async function addBulk(queue: Queue, count: number): Promise<void> {
  for (let done = 0; done < count; done += BULK) {
    await queue.addBulk(Array.from({ length: Math.min(BULK, count - done) }, () => ({ name: "noop", data: NOOP_JOB.payload })));
  }
}

/**
 * A worker running noop jobs, in this process or (sandboxed) in BullMQ's worker threads;
 * `finished` resolves after `count` completions.
 */
function noopWorker(queueName: string, count: number, options: { sandboxed?: boolean; onStart?: (id: string) => void } = {}): { worker: Worker; finished: Promise<void> } {
  let completed = 0;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  const inProcess = async (job: { id?: string }) => {
    options.onStart?.(job.id!);
    return { ok: true };
  };
  const worker = options.sandboxed
    ? new Worker(queueName, join(__dirname, "bench", "bullmq-noop-processor.js"), { connection, concurrency: CONCURRENCY, useWorkerThreads: true })
    : new Worker(queueName, inProcess, { connection, concurrency: CONCURRENCY });
  worker.on("completed", () => {
    if (++completed === count) resolveFinished();
  });
  return { worker, finished };
}

const rate = (count: number, ms: number) => Math.round((count / ms) * 1_000);

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function main(): Promise<void> {
  const figures: Record<string, number> = {};
  const stage = async (name: string, run: () => Promise<number>) => {
    process.stdout.write(`  ${name} …`);
    figures[name] = await run();
    process.stdout.write(` ${figures[name]}\n`);
  };
  process.stdout.write(`BullMQ on ${REDIS_URL}, in-process worker (concurrency ${CONCURRENCY}), ${JOBS} noop jobs a stage\n`);

  await stage("enqueueOneAtATimePerSecond", () => withQueue(async (q) => rate(JOBS, await timed(() => addAll(q, JOBS, 1)))));
  await stage(`enqueue${IN_FLIGHT}InFlightPerSecond`, () => withQueue(async (q) => rate(JOBS, await timed(() => addAll(q, JOBS, IN_FLIGHT)))));
  await stage(`bulkEnqueue${BULK}PerSecond`, () => withQueue(async (q) => rate(JOBS, await timed(() => addBulk(q, JOBS)))));
  // As taskq's drain stage: the jobs are stored first, then the worker starts.
  await stage("drainPerSecond", () =>
    withQueue(async (q) => {
      await addBulk(q, JOBS);
      let worker: Worker | undefined;
      const ms = await timed(async () => {
        const w = noopWorker(q.name, JOBS);
        worker = w.worker;
        await w.finished;
      });
      await worker!.close();
      return rate(JOBS, ms);
    }),
  );
  // As taskq's end-to-end stage: adds (64 in flight) while the worker runs, first add to last completion.
  const endToEnd = (sandboxed: boolean) => () =>
    withQueue(async (q) => {
      const { worker, finished } = noopWorker(q.name, JOBS, { sandboxed });
      await worker.waitUntilReady();
      const ms = await timed(async () => {
        await addAll(q, JOBS, IN_FLIGHT);
        await finished;
      });
      await worker.close();
      return rate(JOBS, ms);
    });
  await stage("endToEndPerSecond", endToEnd(false));
  await stage("endToEndSandboxedPerSecond", endToEnd(true));
  // As taskq's pickup stage: one job at a time into an idle worker, add → processor start.
  const pickup = await withQueue(async (q) => {
    // The processor may start before the add's acknowledgement reaches this code: record both, subtract after.
    const startedAt = new Map<string, number>();
    const latencies: number[] = [];
    const { worker } = noopWorker(q.name, PICKUP_JOBS, { onStart: (id) => startedAt.set(id, performance.now()) });
    await worker.waitUntilReady();
    for (let i = 0; i < PICKUP_JOBS; i++) {
      const done = new Promise<void>((resolve) => worker.once("completed", () => resolve()));
      const added = performance.now();
      const job = await q.add("noop", NOOP_JOB.payload);
      await done;
      latencies.push(startedAt.get(job.id!)! - added);
    }
    await worker.close();
    return latencies.sort((a, b) => a - b);
  });
  figures.pickupP50Ms = Number(pickup[Math.floor(pickup.length * 0.5)]!.toFixed(3));
  figures.pickupP99Ms = Number(pickup[Math.floor(pickup.length * 0.99)]!.toFixed(3));
  process.stdout.write(`  pickup … p50 ${figures.pickupP50Ms} ms, p99 ${figures.pickupP99Ms} ms\n`);

  const rows: [string, string][] = [
    ["enqueue, one at a time", `${figures.enqueueOneAtATimePerSecond!.toLocaleString("en-US")} jobs/s`],
    [`enqueue, ${IN_FLIGHT} in flight`, `${figures[`enqueue${IN_FLIGHT}InFlightPerSecond`]!.toLocaleString("en-US")} jobs/s`],
    [`bulk enqueue (${BULK} a call)`, `${figures[`bulkEnqueue${BULK}PerSecond`]!.toLocaleString("en-US")} jobs/s`],
    ["drain of stored jobs", `${figures.drainPerSecond!.toLocaleString("en-US")} jobs/s`],
    [`end to end, ${IN_FLIGHT} adds in flight`, `${figures.endToEndPerSecond!.toLocaleString("en-US")} jobs/s`],
    ["end to end, sandboxed processor in worker threads", `${figures.endToEndSandboxedPerSecond!.toLocaleString("en-US")} jobs/s`],
    ["pickup add → start, p50 / p99", `${figures.pickupP50Ms} / ${figures.pickupP99Ms} ms`],
  ];
  process.stdout.write(`\n| BullMQ figure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join("\n")}\n`);
  const out = join(projectRoot(), "bench-results");
  mkdirSync(out, { recursive: true });
  const file = join(out, `peers-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ at: new Date().toISOString(), machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadAverage: loadavg() }, node: process.version, packages: packageVersions(projectRoot(), ["bullmq", "ioredis"]), redis: REDIS_URL, jobs: JOBS, concurrency: CONCURRENCY, figures }, null, 2)}\n`,
  );
  process.stdout.write(`\nwritten to ${file}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbench:peers failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
