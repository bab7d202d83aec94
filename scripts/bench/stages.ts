import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../apps/core/src/config";
import { createRegistry } from "../../apps/core/src/handlers/registry";
import { migrate } from "../../apps/core/src/store/migrate";
import { largestClaim } from "../../apps/worker/src/claim-loop";
import { nowMs } from "../../apps/core/src/time";
import { type BenchChild, freePort, serviceEnv, startBareExpress, startService } from "./child-process";
import { JobDb, quantile } from "./job-db";
import { type LoadResult, NOOP_JOB, postLoad } from "./load";
import { bareThreadsSeconds } from "./thread-probe";

/** How much work each stage does; `--quick` shrinks everything for iterating. */
export interface BenchSizes {
  connections: number;
  loadSeconds: number;
  warmupSeconds: number;
  bulkRequests: number;
  bulkConnections: number;
  drainJobs: number;
  e2eJobs: number;
  e2eBatchSize: number;
  e2eBatchConnections: number;
  pickupJobs: number;
  hashJobs: number;
  hashIterations: number;
  /** Alternated rounds of 1 thread, 2 threads and bare threads: one round of 0.3–0.7 s varied 1.40–1.69× here. */
  hashRounds: number;
  backlogSmall: number;
  backlogLarge: number;
  claimRounds: number;
  backlogDrainJobs: number;
}

export const FULL: BenchSizes = {
  connections: 64,
  loadSeconds: 10,
  warmupSeconds: 2,
  bulkRequests: 100,
  bulkConnections: 4,
  drainJobs: 100_000,
  e2eJobs: 20_000,
  e2eBatchSize: 100,
  e2eBatchConnections: 16,
  pickupJobs: 500,
  hashJobs: 64,
  hashIterations: 5_000,
  hashRounds: 3,
  backlogSmall: 10_000,
  backlogLarge: 1_000_000,
  claimRounds: 200,
  backlogDrainJobs: 50_000,
};

export const QUICK: BenchSizes = {
  ...FULL,
  loadSeconds: 3,
  warmupSeconds: 1,
  bulkRequests: 20,
  drainJobs: 20_000,
  e2eJobs: 5_000,
  pickupJobs: 100,
  hashRounds: 1,
  backlogLarge: 100_000,
  claimRounds: 50,
  backlogDrainJobs: 10_000,
};

/** Every wait has a deadline, so a broken service ends the stage instead of the run. */
const STAGE_TIMEOUT_MS = 180_000;

export class Stages {
  private next = 0;

  constructor(
    private readonly sizes: BenchSizes,
    private readonly dataDir: string,
  ) {
    mkdirSync(dataDir, { recursive: true });
  }

  /** A database file nobody used yet. */
  private freshDb(name: string): string {
    return join(this.dataDir, `${String(++this.next).padStart(2, "0")}-${name}.db`);
  }

  private async service(file: string, extra: Record<string, string> = {}): Promise<BenchChild> {
    return startService(serviceEnv(await freePort(), file, extra));
  }

  async ceiling(): Promise<Measured> {
    const server = await startBareExpress(await freePort());
    try {
      const { warmupOk: _warmup, ...measured } = await this.submitLoad([server]);
      return measured;
    } finally {
      await server.stop();
    }
  }

  /**
   * 64 connections posting one noop job each request, after a warm-up. Then the same load on
   * a ROLE=api process (no dispatcher, no threads), and on a ROLE=api process with a ROLE=worker
   * process beside it on the same file. Neither is a target: the first splits the all-in-one's
   * cost between the API path and running the accepted jobs; the second shows what taking the
   * dispatcher off the API's event loop (into a process, or a thread, of its own) would buy on
   * this machine, where every thread and the load generator share the same cores.
   */
  async submit(): Promise<Measured & { warmupOk: number; stored: number; peakRssMb: number | null; apiOnly: Measured; apiBesideWorker: Measured }> {
    const file = this.freshDb("submit");
    const service = await this.service(file);
    let allInOne: Measured & { warmupOk: number; stored: number; peakRssMb: number | null };
    try {
      const result = await this.submitLoad([service]);
      const db = new JobDb(file);
      const stored = db.span().count;
      db.close();
      // Every 202 of the warm-up and the run is a row: a 202 means committed.
      allInOne = { ...result, stored, peakRssMb: service.peakRssMb() };
    } finally {
      await service.stop();
    }
    const apiOnly = await this.apiLoad(false);
    const apiBesideWorker = await this.apiLoad(true);
    return { ...allInOne, apiOnly, apiBesideWorker };
  }

  /** The submit load on a ROLE=api process, alone or with a ROLE=worker process running the jobs beside it. */
  private async apiLoad(withWorker: boolean): Promise<Measured> {
    const file = this.freshDb(withWorker ? "submit-split" : "submit-api");
    const api = await this.service(file, { ROLE: "api" });
    let worker: BenchChild | null = null;
    try {
      if (withWorker) worker = await this.service(file, { ROLE: "worker" });
      const { warmupOk: _warmup, ...measured } = await this.submitLoad(worker ? [api, worker] : [api]);
      return measured;
    } finally {
      await worker?.stop();
      await api.stop();
    }
  }

  /**
   * The submit load against `servers[0]`. Around the measured run it also reads the CPU time
   * of every server process and of this one (autocannon runs here), per accepted request.
   */
  private async submitLoad(servers: readonly BenchChild[]): Promise<Measured & { warmupOk: number }> {
    const { connections, loadSeconds, warmupSeconds } = this.sizes;
    const url = `${servers[0]!.url}/jobs`;
    const warmup = await postLoad({ url, body: NOOP_JOB, connections, durationS: warmupSeconds });
    const cpuBefore = cpuSnapshot(servers);
    const result = await postLoad({ url, body: NOOP_JOB, connections, durationS: loadSeconds });
    const cpuAfter = cpuSnapshot(servers);
    return { ...result, warmupOk: warmup.ok, cpuPerRequest: cpuPerRequest(cpuBefore, cpuAfter, result.ok) };
  }

  async bulk(): Promise<{ jobsPerSecond: number; requests: LoadResult }> {
    const service = await this.service(this.freshDb("bulk"));
    try {
      const body = { jobs: Array.from({ length: 1_000 }, () => NOOP_JOB) };
      const url = `${service.url}/jobs/batch`;
      await postLoad({ url, body, connections: this.sizes.bulkConnections, amount: 10 });
      const requests = await postLoad({ url, body, connections: this.sizes.bulkConnections, amount: this.sizes.bulkRequests });
      return { jobsPerSecond: requests.okPerSecond * 1_000, requests };
    } finally {
      await service.stop();
    }
  }

  /** Stores the jobs through a ROLE=api process (no worker), then times an all-in-one draining them. */
  async drain(): Promise<{ jobs: number; seconds: number; jobsPerSecond: number; peakRssMb: number | null }> {
    const file = this.freshDb("drain");
    const api = await this.service(file, { ROLE: "api" });
    try {
      const body = { jobs: Array.from({ length: 1_000 }, () => NOOP_JOB) };
      const stored = await postLoad({ url: `${api.url}/jobs/batch`, body, connections: 4, amount: this.sizes.drainJobs / 1_000 });
      if (stored.ok * 1_000 !== this.sizes.drainJobs) throw new Error(`drain: only ${stored.ok * 1_000} jobs were stored`);
    } finally {
      await api.stop();
    }
    const service = await this.service(file);
    const db = new JobDb(file);
    try {
      await until("drain: every job DONE", () => db.unfinished() === 0);
      const span = db.span();
      const seconds = (span.lastFinishedAt - span.firstStartedAt) / 1_000;
      return { jobs: span.count, seconds, jobsPerSecond: span.count / seconds, peakRssMb: service.peakRssMb() };
    } finally {
      db.close();
      await service.stop();
    }
  }

  /** From the first request to the last DONE, with the workers running all along. */
  async endToEnd(mode: "single" | "batch"): Promise<{ jobs: number; seconds: number; jobsPerSecond: number; requests: LoadResult }> {
    const file = this.freshDb(`e2e-${mode}`);
    const service = await this.service(file);
    const db = new JobDb(file);
    try {
      const single = { url: `${service.url}/jobs`, body: NOOP_JOB, connections: this.sizes.connections };
      const { e2eBatchSize: size } = this.sizes;
      const batch = { url: `${service.url}/jobs/batch`, body: { jobs: Array.from({ length: size }, () => NOOP_JOB) }, connections: this.sizes.e2eBatchConnections };
      // A short warm-up, finished before the clock starts, so the run does not time the JIT.
      await postLoad({ ...(mode === "single" ? single : batch), amount: mode === "single" ? 1_000 : 2 * batch.connections });
      await until("e2e warm-up DONE", () => db.unfinished() === 0);
      const started = nowMs();
      const requests =
        mode === "single"
          ? await postLoad({ ...single, amount: this.sizes.e2eJobs })
          : await postLoad({ ...batch, amount: this.sizes.e2eJobs / size });
      await until(`e2e ${mode}: every job DONE`, () => db.unfinished() === 0);
      const span = db.spanSince(started);
      if (span.count !== this.sizes.e2eJobs) throw new Error(`e2e ${mode}: ${span.count} jobs stored, expected ${this.sizes.e2eJobs}`);
      const seconds = (span.lastFinishedAt - started) / 1_000;
      return { jobs: span.count, seconds, jobsPerSecond: span.count / seconds, requests };
    } finally {
      db.close();
      await service.stop();
    }
  }

  /** One job at a time into an idle service; each waits for the previous one to be DONE. */
  async pickup(): Promise<{ jobs: number; toRunningMs: Quantiles; toDoneMs: Quantiles }> {
    const file = this.freshDb("pickup");
    const service = await this.service(file);
    const db = new JobDb(file);
    try {
      const one = async (): Promise<string> => {
        const res = await fetch(`${service.url}/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(NOOP_JOB) });
        const job = (await res.json()) as { id: string };
        if (res.status !== 202) throw new Error(`pickup: POST /jobs answered ${res.status}`);
        await until("pickup: job DONE", () => db.finishedAt(job.id) !== null, 1);
        return job.id;
      };
      for (let i = 0; i < 50; i++) await one();
      const ids: string[] = [];
      for (let i = 0; i < this.sizes.pickupJobs; i++) ids.push(await one());
      const rows = db.times(ids);
      return {
        jobs: rows.length,
        toRunningMs: quantiles(rows.map((r) => r.startedAt - r.createdAt)),
        toDoneMs: quantiles(rows.map((r) => r.finishedAt - r.createdAt)),
      };
    } finally {
      db.close();
      await service.stop();
    }
  }

  /**
   * The same `hash` jobs on 1 and on 2 CPU threads: first claim to last DONE, in alternated
   * rounds; each figure is the median over the rounds, and the speed-up their ratio.
   */
  async cpuScaling(): Promise<{
    oneThreadS: number;
    twoThreadsS: number;
    speedUp: number;
    speedUpPerRound: number[];
    iterations: number;
    jobs: number;
    oneThreadCores: number | null;
    twoThreadsCores: number | null;
    bareThreadsSpeedUp: number;
  }> {
    // Also the CPU time the service got while it ran: on a machine shared with other work,
    // two threads can only go twice as fast if the process gets two cores' worth of time.
    const time = async (threads: number): Promise<{ seconds: number; cores: number | null }> => {
      const file = this.freshDb(`hash-${threads}`);
      const service = await this.service(file, { CPU_THREADS: String(threads) });
      const db = new JobDb(file);
      const job = { type: "hash", payload: { data: "taskq", iterations: this.sizes.hashIterations } };
      const submit = async (count: number) => {
        const res = await fetch(`${service.url}/jobs/batch`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jobs: Array.from({ length: count }, () => job) }),
        });
        if (res.status !== 202) throw new Error(`hash: POST /jobs/batch answered ${res.status}`);
        await until(`hash on ${threads} thread(s): every job DONE`, () => db.unfinished() === 0);
      };
      try {
        // A warm-up, finished before the clock starts, as in the other stages: in a fresh
        // process the first batch also compiles the submit, claim and settle paths, and that
        // kept the main thread busy for ~80 ms of a 0.3–0.4 s run, on the cores the hash
        // threads are timed on (per-thread CPU ticks, measured).
        await submit(2 * threads);
        const started = nowMs();
        const cpuBefore = service.cpuSeconds();
        await submit(this.sizes.hashJobs);
        const counts = db.countByStatus();
        if (counts.DONE !== this.sizes.hashJobs + 2 * threads) throw new Error(`hash: ${JSON.stringify(counts)}`);
        const cpuAfter = service.cpuSeconds();
        const span = db.spanSince(started);
        const seconds = (span.lastFinishedAt - span.firstStartedAt) / 1_000;
        return { seconds, cores: cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / seconds };
      } finally {
        db.close();
        await service.stop();
      }
    };
    // The same total work on bare threads, one thread doing it all vs two doing half each.
    const work = this.sizes.hashJobs * this.sizes.hashIterations;
    const one: { seconds: number; cores: number | null }[] = [];
    const two: { seconds: number; cores: number | null }[] = [];
    const bareOne: number[] = [];
    const bareTwo: number[] = [];
    for (let round = 0; round < this.sizes.hashRounds; round++) {
      one.push(await time(1));
      two.push(await time(2));
      bareOne.push(await bareThreadsSeconds(1, work));
      bareTwo.push(await bareThreadsSeconds(2, work / 2));
    }
    const oneThreadS = median(one.map((r) => r.seconds));
    const twoThreadsS = median(two.map((r) => r.seconds));
    const medianCores = (runs: { cores: number | null }[]) => (runs.some((r) => r.cores === null) ? null : median(runs.map((r) => r.cores!)));
    return {
      bareThreadsSpeedUp: median(bareOne) / median(bareTwo),
      oneThreadS,
      twoThreadsS,
      speedUp: oneThreadS / twoThreadsS,
      speedUpPerRound: one.map((r, i) => r.seconds / two[i]!.seconds),
      iterations: this.sizes.hashIterations,
      jobs: this.sizes.hashJobs,
      oneThreadCores: medianCores(one),
      twoThreadsCores: medianCores(two),
    };
  }

  /**
   * The claim statement timed on its own against a small and a large backlog of PENDING rows,
   * then the service draining part of each, with its peak RSS.
   */
  async backlog(): Promise<{ claimLimit: number; small: BacklogRun; large: BacklogRun; ratio: number; emptyRatio: number }> {
    const defaults = loadConfig({});
    // The two claims the dispatcher makes when every slot is free: the io pool's (which finds
    // the noop backlog) and the cpu pool's (which finds nothing and must not scan for it).
    const claimLimit = largestClaim(defaults.IO_THREADS * defaults.IO_CONCURRENCY_PER_THREAD);
    const registry = createRegistry({ includeTestHandlers: false });
    const typesOf = (kind: "cpu" | "io") => registry.types.filter((t) => registry.get(t)!.kind === kind);
    const seed = async (rows: number) => {
      const file = this.freshDb(`backlog-${rows}`);
      await migrate(`file:${file}`, { busyTimeoutMs: 5_000 });
      const db = new JobDb(file, { readonly: false });
      const started = performance.now();
      db.seedNoopJobs(rows);
      return { rows, file, db, seedSeconds: (performance.now() - started) / 1_000, io: [] as number[], cpu: [] as number[], plan: [] as string[] };
    };
    const backlogs = [await seed(this.sizes.backlogSmall), await seed(this.sizes.backlogLarge)];
    // Small and large are timed in alternating blocks, so that a change in the machine's load
    // (it is shared) falls on both alike instead of on whichever ran second.
    const blocks = 10;
    for (let block = 0; block < blocks; block++) {
      for (const b of backlogs) {
        const io = b.db.claimTimes(typesOf("io"), claimLimit, this.sizes.claimRounds / blocks);
        const cpu = b.db.claimTimes(typesOf("cpu"), largestClaim(defaults.CPU_THREADS), this.sizes.claimRounds / blocks);
        if (io.claimed !== claimLimit || cpu.claimed !== 0) throw new Error(`backlog: claims returned ${io.claimed} and ${cpu.claimed} rows`);
        b.io.push(...io.timesUs);
        b.cpu.push(...cpu.timesUs);
        b.plan = io.plan;
      }
    }
    const drain = async (b: (typeof backlogs)[number]): Promise<BacklogRun> => {
      b.db.close();
      const drainJobs = Math.min(b.rows, this.sizes.backlogDrainJobs);
      const service = await this.service(b.file);
      const db = new JobDb(b.file);
      try {
        const started = nowMs();
        await until(`backlog ${b.rows}: ${drainJobs} jobs DONE`, () => db.doneCount() >= drainJobs, 50);
        const seconds = (nowMs() - started) / 1_000;
        // A scrape counts the jobs by status (the taskq_jobs gauge): it must not grow with the table either.
        const scrapesMs: number[] = [];
        for (let i = 0; i < SCRAPES; i++) {
          const scrapeStarted = performance.now();
          const res = await fetch(`${service.url}/metrics`);
          await res.text();
          if (res.status !== 200) throw new Error(`backlog: GET /metrics answered ${res.status}`);
          scrapesMs.push(performance.now() - scrapeStarted);
        }
        const io = quantiles(b.io);
        return {
          rows: b.rows,
          seedSeconds: b.seedSeconds,
          claimMedianUs: io.p50,
          claimP99Us: io.p99,
          plan: b.plan,
          emptyClaimMedianUs: quantiles(b.cpu).p50,
          drained: drainJobs,
          drainJobsPerSecond: drainJobs / seconds,
          scrapeMedianMs: quantiles(scrapesMs).p50,
          peakRssMb: service.peakRssMb(),
        };
      } finally {
        db.close();
        await service.stop();
      }
    };
    const small = await drain(backlogs[0]!);
    const large = await drain(backlogs[1]!);
    return { claimLimit, small, large, ratio: large.claimMedianUs / small.claimMedianUs, emptyRatio: large.emptyClaimMedianUs / small.emptyClaimMedianUs };
  }
}

export interface BacklogRun {
  rows: number;
  seedSeconds: number;
  claimMedianUs: number;
  claimP99Us: number;
  plan: string[];
  /** The cpu pool's claim, for a type with no PENDING jobs. */
  emptyClaimMedianUs: number;
  drained: number;
  drainJobsPerSecond: number;
  /** GET /metrics once the drain is over, median of SCRAPES. */
  scrapeMedianMs: number;
  peakRssMb: number | null;
}

const SCRAPES = 9;

export interface Quantiles {
  p50: number;
  p99: number;
  max: number;
}

function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

function quantiles(values: number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

async function until(what: string, probe: () => boolean, everyMs = 20): Promise<void> {
  const deadline = Date.now() + STAGE_TIMEOUT_MS;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${STAGE_TIMEOUT_MS / 1_000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * CPU time per accepted request, in µs: the server's main thread (the event loop serving
 * HTTP), the rest of the server (its other threads, and any worker process beside it), and
 * the load generator. Their sum times the rate is the cores the run used.
 */
export interface CpuPerRequest {
  serverMainUs: number;
  serverOtherUs: number;
  loadGeneratorUs: number;
}

export type Measured = LoadResult & { cpuPerRequest: CpuPerRequest | null };

interface CpuSnapshot {
  serverMainS: number | null;
  serverAllS: number | null;
  loadGeneratorUs: number;
}

function cpuSnapshot(servers: readonly BenchChild[]): CpuSnapshot {
  const all = servers.map((s) => s.cpuSeconds());
  const { user, system } = process.cpuUsage();
  return {
    serverMainS: servers[0]!.mainThreadCpuSeconds(),
    serverAllS: all.includes(null) ? null : (all as number[]).reduce((a, b) => a + b, 0),
    loadGeneratorUs: user + system,
  };
}

/** Null off Linux, where the server's CPU time cannot be read. */
function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number): CpuPerRequest | null {
  if (before.serverMainS === null || after.serverMainS === null || before.serverAllS === null || after.serverAllS === null || requests === 0) return null;
  const main = after.serverMainS - before.serverMainS;
  const all = after.serverAllS - before.serverAllS;
  return {
    serverMainUs: (main * 1e6) / requests,
    serverOtherUs: ((all - main) * 1e6) / requests,
    loadGeneratorUs: (after.loadGeneratorUs - before.loadGeneratorUs) / requests,
  };
}
