import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { projectRoot } from "../../apps/core/src/paths";

/**
 * A server under test, started as its own process the way a user starts it. Its output is
 * kept (the last lines are shown if it dies) rather than printed over the table.
 */
export interface BenchChild {
  readonly pid: number;
  readonly url: string;
  /** Peak resident set size so far, from /proc/<pid>/status VmHWM, in MB (null off Linux). */
  peakRssMb(): number | null;
  /** CPU time (user + system, all threads) the process has used so far, in seconds (null off Linux). */
  cpuSeconds(): number | null;
  /** The same, of its main thread alone (the event loop that serves HTTP). */
  mainThreadCpuSeconds(): number | null;
  /** Log lines at warn or above that the child wrote (JSON, NODE_ENV=production). */
  warnings(): string[];
  /** SIGTERM, then waits for the exit (the service drains and closes the database). */
  stop(): Promise<void>;
}

/** The environment every service run gets: the defaults, apart from these. */
export function serviceEnv(port: number, databaseFile: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: `file:${databaseFile}`,
    ...extra,
  };
}

/**
 * How a child is started: `under` runs node inside another program (valgrind …), which can
 * take minutes to be ready instead of seconds.
 */
export interface Launch {
  under?: readonly string[];
  readyTimeoutMs?: number;
}

/** `node dist/apps/service/src/main.js` with `env` on top of a clean environment. */
export function startService(env: Record<string, string>, launch: Launch = {}): Promise<BenchChild> {
  return startChild(join(projectRoot(), "dist", "apps", "service", "src", "main.js"), env, "/readyz", launch);
}

/** The bare Express ceiling (scripts/bench/bare-express.ts, compiled). */
export function startBareExpress(port: number, launch: Launch = {}): Promise<BenchChild> {
  return startChild(join(__dirname, "bare-express.js"), { NODE_ENV: "production", PORT: String(port) }, "/healthz", launch);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

async function startChild(entry: string, env: Record<string, string>, readyPath: string, launch: Launch): Promise<BenchChild> {
  const [program, ...args] = [...(launch.under ?? []), process.execPath, ...nodeFlags(), entry];
  // PATH and HOME only: no variable of the bench's own shell changes the service's defaults.
  const child = spawn(program!, args, {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) output.push(line);
    if (output.length > 2_000) output.splice(0, output.length - 2_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));

  const url = `http://127.0.0.1:${env.PORT}`;
  const readyTimeoutMs = launch.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + readyTimeoutMs;
  while (true) {
    if (dead) throw new Error(`${entry} exited during start-up:\n${output.slice(-20).join("\n")}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${entry} was not ready within ${readyTimeoutMs} ms:\n${output.slice(-20).join("\n")}`);
    }
    if (await answers(`${url}${readyPath}`)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid!,
    url,
    peakRssMb: () => peakRssMb(child),
    cpuSeconds: () => cpuSeconds(`/proc/${child.pid}/stat`),
    mainThreadCpuSeconds: () => cpuSeconds(`/proc/${child.pid}/task/${child.pid}/stat`),
    warnings: () => output.filter((l) => /"level":"(warn|error)"/.test(l)),
    stop: () => stopChild(child, exited, output),
  };
}

/** `BENCH_CPU_PROF=<dir>` profiles every child (node --cpu-prof), for finding the hot paths. */
function nodeFlags(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

function peakRssMb(child: ChildProcess): number | null {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? null : Math.round(Number(kb) / 1024);
  } catch {
    return null;
  }
}

/** From a process's or a thread's stat file. */
function cpuSeconds(statPath: string): number | null {
  try {
    // Fields 14 and 15 of a stat file (after the parenthesised name): utime and stime in clock ticks (100 Hz).
    const fields = readFileSync(statPath, "utf8").replace(/^.*\) /, "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, output: string[]): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  const code = await exited;
  clearTimeout(timer);
  if (code !== 0 && code !== null) throw new Error(`child exited with code ${code}:\n${output.slice(-20).join("\n")}`);
}
