/**
 * Live fan-out under a crowd of subscribers, the scenario of issue 17: CLIENTS WebSocket clients
 * subscribed to everything, then one batch of JOBS noop jobs, while /healthz is probed every
 * PROBE_MS on a fresh connection, as an orchestrator's liveness probe does (each probe on its
 * own schedule, whether or not the previous one has answered).
 *
 *   npm run bench:fanout                      # 500 clients, 1,000 jobs, the per-client limits raised to let them all in
 *   CLIENTS=100 JOBS=200 npm run bench:fanout
 *   LIMITS=default npm run bench:fanout       # the default limits: the same crowd from one address, mostly refused
 *
 * The service runs as its own process (SQLite, all-in-one); the clients run in worker threads of
 * this process and the probe on its main thread, so that receiving a million messages does not
 * delay the probe's own timers and answers.
 * Measured from the batch's submission until every admitted client has seen every job DONE:
 * /healthz latency (p50, p90, p99, max, and how many probes took over a second, Kubernetes'
 * default probe timeout), messages received, and the service's CPU seconds. The same probes
 * during IDLE_MS before the batch, with the clients connected, give the machine's baseline.
 */
import { get } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import WebSocket from "ws";
import { freePort, serviceEnv, startService } from "./bench/child-process";

const CLIENTS = Number(process.env.CLIENTS ?? 500);
const JOBS = Number(process.env.JOBS ?? 1_000);
const PROBE_MS = 50;
const IDLE_MS = 3_000;
const PROBE_TIMEOUT_MS = 1_000;
const DEADLINE_MS = 10 * 60_000;
const DEFAULT_LIMITS = process.env.LIMITS === "default";

interface Client {
  ws: WebSocket;
  messages: number;
  done: number;
}

const CLIENT_THREADS = 2;

/** What a client thread reports: once its clients are subscribed, then once each has seen every job DONE. */
type ThreadReport = { subscribed: number; refusedConnections: number; refusedSubscriptions: number } | { done: true; messages: number };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "taskq-fanout-"));
  const port = await freePort();
  const limits: Record<string, string> = DEFAULT_LIMITS ? {} : { REALTIME_MAX_CONNECTIONS_PER_CLIENT: String(CLIENTS), REALTIME_MAX_ALL_SUBSCRIPTIONS_PER_CLIENT: String(CLIENTS) };
  const service = await startService(serviceEnv(port, join(dir, "jobs.db"), limits));
  const threads: Worker[] = [];
  try {
    const reports = Array.from({ length: CLIENT_THREADS }, (_, i) => {
      const thread = new Worker(__filename, { workerData: { url: `ws://127.0.0.1:${port}/ws`, clients: Math.ceil(CLIENTS / CLIENT_THREADS) - (i < CLIENTS % CLIENT_THREADS || CLIENTS % CLIENT_THREADS === 0 ? 0 : 1) } });
      threads.push(thread);
      return reportsOf(thread);
    });
    const ready = await Promise.all(reports.map((r) => r.next()));
    const subscribed = ready.reduce((n, r) => n + ("subscribed" in r ? r.subscribed : 0), 0);
    const refusedConnections = ready.reduce((n, r) => n + ("subscribed" in r ? r.refusedConnections : 0), 0);
    const refusedSubscriptions = ready.reduce((n, r) => n + ("subscribed" in r ? r.refusedSubscriptions : 0), 0);

    const idle = await probeDuring(`${service.url}/healthz`, () => new Promise((resolve) => setTimeout(resolve, IDLE_MS)));
    // prom-client resets its event-loop delay histogram at each scrape: this one starts the window.
    await eventLoopDelay(service.url);
    const cpuBefore = service.cpuSeconds() ?? 0;
    const started = performance.now();
    let messages = 0;
    const busy = await probeDuring(`${service.url}/healthz`, async () => {
      for (const thread of threads) thread.postMessage({ jobs: JOBS });
      const res = await fetch(`${service.url}/jobs/batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jobs: Array.from({ length: JOBS }, () => ({ type: "noop", payload: {} })) }),
      });
      if (res.status !== 202) throw new Error(`POST /jobs/batch → ${res.status} ${await res.text()}`);
      const finished = await Promise.race([Promise.all(reports.map((r) => r.next())), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("not every client saw every job DONE in time")), DEADLINE_MS).unref())]);
      messages = finished.reduce((n, r) => n + ("messages" in r ? r.messages : 0), 0);
    });
    const elapsedS = (performance.now() - started) / 1000;
    const cpu = (service.cpuSeconds() ?? 0) - cpuBefore;
    const delay = await eventLoopDelay(service.url);
    console.log(
      [
        `clients subscribed to everything: ${subscribed} (refused: ${refusedConnections} connections, ${refusedSubscriptions} subscriptions); jobs: ${JOBS}; load average ${loadAverage()}`,
        `until every client saw every job DONE: ${elapsedS.toFixed(1)} s; messages received: ${messages} (${(messages / Math.max(1, subscribed * JOBS)).toFixed(2)} per job per client)`,
        `service CPU: ${cpu.toFixed(1)} s; its event loop's delay (wall time, descheduling included), ms: p99 ${delay.p99}, max ${delay.max}`,
        `/healthz idle, ${describe(idle)}`,
        `/healthz during the fan-out, ${describe(busy)}`,
      ].join("\n"),
    );
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A thread's reports, one at a time, in order. */
function reportsOf(thread: Worker): { next(): Promise<ThreadReport> } {
  const queue: ThreadReport[] = [];
  const waiting: ((report: ThreadReport) => void)[] = [];
  thread.on("message", (report: ThreadReport) => {
    const wake = waiting.shift();
    if (wake) wake(report);
    else queue.push(report);
  });
  thread.on("error", (error) => {
    console.error(error);
    process.exit(1);
  });
  return { next: () => new Promise((resolve) => (queue.length > 0 ? resolve(queue.shift()!) : waiting.push(resolve))) };
}

/** A client thread: connects and subscribes its clients, reports, then reports again once each has seen every job DONE. */
async function clientThread(url: string, count: number): Promise<void> {
  const clients: Client[] = [];
  let refusedConnections = 0;
  let refusedSubscriptions = 0;
  for (let i = 0; i < count; i++) {
    const client = await connect(url);
    if (client === null) refusedConnections++;
    else if (!(await subscribeToAll(client))) {
      refusedSubscriptions++;
      client.ws.terminate();
    } else clients.push(client);
  }
  parentPort!.postMessage({ subscribed: clients.length, refusedConnections, refusedSubscriptions } satisfies ThreadReport);
  const { jobs } = await new Promise<{ jobs: number }>((resolve) => parentPort!.once("message", resolve));
  while (!clients.every((c) => c.done >= jobs)) await new Promise((resolve) => setTimeout(resolve, 20));
  parentPort!.postMessage({ done: true, messages: clients.reduce((n, c) => n + c.messages, 0) } satisfies ThreadReport);
}

/** An open, counting client, or null when the handshake is refused. */
function connect(url: string): Promise<Client | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const client: Client = { ws, messages: 0, done: 0 };
    ws.on("message", (data: Buffer) => {
      client.messages++;
      // Substring tests instead of parsing: the clients must not be the bottleneck they measure.
      if (data.includes('"status":"DONE"')) client.done++;
    });
    ws.once("open", () => resolve(client));
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve(null);
    });
    ws.on("error", () => resolve(null));
  });
}

function subscribeToAll(client: Client): Promise<boolean> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer) => {
      if (data.includes('"event":"subscribed"') || data.includes('"event":"error"')) {
        client.ws.off("message", onMessage);
        resolve(data.includes('"event":"subscribed"'));
      }
    };
    client.ws.on("message", onMessage);
    client.ws.send(JSON.stringify({ op: "subscribe", all: true }));
  });
}

/** Probes `url` every PROBE_MS while `work` runs, then waits for the last answers; their latencies in ms. */
async function probeDuring(url: string, work: () => Promise<unknown>): Promise<number[]> {
  const answers: Promise<number>[] = [];
  const timer = setInterval(() => answers.push(probe(url)), PROBE_MS);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Promise.all(answers);
}

function describe(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN).toFixed(1);
  const late = sorted.filter((ms) => ms > PROBE_TIMEOUT_MS).length;
  return `${sorted.length} probes, ms: p50 ${at(50)}, p90 ${at(90)}, p99 ${at(99)}, max ${at(100)}; over ${PROBE_TIMEOUT_MS} ms: ${late}`;
}

/** The service's event-loop delay since the previous scrape (prom-client's default metrics), in ms. */
async function eventLoopDelay(url: string): Promise<{ p99: string; max: string }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const ms = (name: string) => (Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1]) * 1000).toFixed(1);
  return { p99: ms("nodejs_eventloop_lag_p99_seconds"), max: ms("nodejs_eventloop_lag_max_seconds") };
}

function loadAverage(): string {
  return loadavg()[0]!.toFixed(1);
}

/** One GET on a new connection, in ms (a refused or failed probe counts as the time it took). */
function probe(url: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = get(url, { agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    });
    req.on("error", () => resolve(performance.now() - started));
  });
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else {
  const { url, clients } = workerData as { url: string; clients: number };
  void clientThread(url, clients);
}
