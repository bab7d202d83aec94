import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../apps/core/src/paths";
import { type BenchChild, freePort, type Launch, serviceEnv, startBareExpress, startService } from "./bench/child-process";
import { NOOP_JOB } from "./bench/load";
import { onlyOption } from "./bench/only-option";
import { gitCommit } from "./bench/versions";

/**
 * `npm run bench:instructions`: the CPU instructions one `POST /jobs` costs, counted by
 * valgrind's callgrind, for the bare Express ceiling, the service with ROLE=api and the
 * all-in-one service. Instructions, unlike seconds, do not depend on what else the machine
 * runs: two runs of the same code agreed within 0.1% on the main thread, on a shared machine
 * where the ceiling's requests per second moved between 3.9k and 7.1k within an hour. A change
 * to the request path is judged by these counts, then confirmed by `npm run bench`.
 *
 * The share is the ceiling's main-thread instructions over the target's: the share of the
 * ceiling's rate the target would reach if its main thread were all that limited it.
 * `-- --only api,all` counts some targets only (each takes two to three minutes); without the
 * ceiling there is no share.
 */
const WARM_UP_REQUESTS = 1_500;
const COUNTED_REQUESTS = 1_000;
const CONNECTIONS = 8;
/** Under callgrind node starts 30–50 times slower. */
const LAUNCH_TIMEOUT_MS = 300_000;

interface Target {
  /** What `--only` calls it. */
  key: string;
  name: string;
  start(launch: Launch, env: Record<string, string>): Promise<BenchChild>;
  env(port: number, databaseFile: string): Record<string, string>;
}

interface Count {
  target: string;
  requests: number;
  /** Instructions per request, over the counted requests only. */
  mainThread: number;
  otherThreads: number;
  allThreads: number;
  threads: number[];
}

const TARGETS: Target[] = [
  { key: "ceiling", name: "bare Express ceiling", env: (port) => ({ NODE_ENV: "production", PORT: String(port) }), start: (launch, env) => startBareExpress(Number(env.PORT), launch) },
  { key: "api", name: "service, ROLE=api", env: (port, db) => serviceEnv(port, db, { ROLE: "api" }), start: (launch, env) => startService(env, launch) },
  { key: "all", name: "service, all-in-one", env: (port, db) => serviceEnv(port, db), start: (launch, env) => startService(env, launch) },
];

async function main(): Promise<void> {
  const root = projectRoot();
  const valgrind = execFileSync("valgrind", ["--version"]).toString().trim();
  process.stdout.write(`taskq instruction counts (${valgrind}): ${WARM_UP_REQUESTS} POST /jobs to warm up, then ${COUNTED_REQUESTS} counted, ${CONNECTIONS} connections\n`);
  const only = onlyOption(process.argv.slice(2), TARGETS.map((t) => t.key));
  const counts: Count[] = [];
  for (const target of TARGETS.filter((t) => only.includes(t.key))) {
    const started = Date.now();
    process.stdout.write(`  ${target.name} …`);
    counts.push(await countTarget(target));
    const c = counts[counts.length - 1]!;
    process.stdout.write(` ${((Date.now() - started) / 1_000).toFixed(0)} s  main thread ${Math.round(c.mainThread).toLocaleString("en-US")} per request\n`);
  }

  const ceiling = counts.find((c) => c.target === TARGETS[0]!.name)?.mainThread;
  const rows = counts.map((c) => ({ ...c, ceilingShare: ceiling === undefined ? null : ceiling / c.mainThread }));
  const kilo = (n: number) => `${Math.round(n / 1_000).toLocaleString("en-US")}k`;
  process.stdout.write(
    [
      "",
      "| target | main thread, instructions per request | other threads | all threads | ceiling's share (main thread) |",
      "|---|---|---|---|---|",
      ...rows.map((r) => `| ${r.target} | ${kilo(r.mainThread)} | ${kilo(r.otherThreads)} | ${kilo(r.allThreads)} | ${r.ceilingShare === null ? "–" : `${Math.round(r.ceilingShare * 100)}%`} |`),
      "",
    ].join("\n"),
  );
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = join(root, "bench-results", `instructions-${stamp}.json`);
  mkdirSync(join(root, "bench-results"), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, valgrind, commit: gitCommit(root), warmUpRequests: WARM_UP_REQUESTS, countedRequests: COUNTED_REQUESTS, connections: CONNECTIONS, rows }, null, 2)}\n`);
  process.stdout.write(`\nwritten to ${out}\n`);
}

/** Starts the target under callgrind, warms it up, counts COUNTED_REQUESTS requests alone, and stops it. */
async function countTarget(target: Target): Promise<Count> {
  const dir = mkdtempSync(join(tmpdir(), "taskq-callgrind-"));
  const env = target.env(await freePort(), join(dir, "bench.db"));
  const launch: Launch = {
    under: ["valgrind", "--tool=callgrind", "--smc-check=all-non-file", "--separate-threads=yes", `--callgrind-out-file=${join(dir, "callgrind.%p")}`],
    readyTimeoutMs: LAUNCH_TIMEOUT_MS,
  };
  const child = await target.start(launch, env);
  try {
    const url = `http://127.0.0.1:${env.PORT}/jobs`;
    await post(url, WARM_UP_REQUESTS);
    // vgdb finds the process by the user and host names valgrind saw: the child's environment.
    const control = (command: string) =>
      execFileSync("callgrind_control", [command, String(child.pid)], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdio: "pipe" });
    control("-z");
    await post(url, COUNTED_REQUESTS);
    control("-d");
  } finally {
    await child.stop();
  }
  // The dump asked for is part 1 (callgrind.<pid>.1-<thread>); the one written at exit is not read.
  const parts = readdirSync(dir)
    .filter((f) => f.startsWith(`callgrind.${child.pid}.1-`))
    .sort();
  const threads = parts.map((f) => Number(/^summary: (\d+)$/m.exec(readFileSync(join(dir, f), "utf8"))?.[1] ?? 0) / COUNTED_REQUESTS);
  rmSync(dir, { recursive: true, force: true });
  if (threads.length === 0) throw new Error(`no callgrind dump for ${target.name}`);
  const all = threads.reduce((a, b) => a + b, 0);
  return { target: target.name, requests: COUNTED_REQUESTS, mainThread: threads[0]!, otherThreads: all - threads[0]!, allThreads: all, threads: threads.map(Math.round) };
}

/** `count` POSTs of the bench's noop job from CONNECTIONS keep-alive loops; every answer must be a 202. */
async function post(url: string, count: number): Promise<void> {
  const body = JSON.stringify(NOOP_JOB);
  let sent = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (sent < count) {
        sent++;
        const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`POST ${url} → ${res.status} ${text.slice(0, 200)}`);
      }
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbench:instructions failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
