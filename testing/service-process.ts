import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../apps/core/src/paths";
import { freePort } from "./free-port";
import { TEST_ENV } from "./test-env";
import { waitFor } from "./wait";

/** A real service process (dist/apps/service/src/main.js) in any ROLE, started from a test. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the process wrote (stdout and stderr), for failure messages. */
  output(): string;
  /** Sends a signal (SIGKILL simulates a crash) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Sends a signal that does not end the process (SIGSTOP freezes it, SIGCONT resumes it). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM: the graceful shutdown. Waits for the exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

const MAIN = join(projectRoot(), "dist", "apps", "service", "src", "main.js");
const OUTPUT_KEEP_CHARS = 20_000;

/**
 * Starts `node main.js` with TEST_ENV + `env` (give DATABASE_URL and ROLE) on a free port and
 * resolves once GET /readyz answers 200. The child gets no other environment than PATH, so
 * what a test sets is all it runs with. `watch`, given the process's URL and environment before
 * it starts, may observe it (the tests check its answers against the OpenAPI document); what it
 * returns is called once the process has exited.
 */
export async function startServiceProcess(
  name: string,
  env: Record<string, string>,
  options: { timeoutMs?: number; watch?: (baseUrl: string, env: Record<string, string>) => () => void } = {},
): Promise<ServiceProcess> {
  const port = await freePort();
  const childEnv = { ...TEST_ENV, WORKER_ID: name, ...env, PORT: String(port) };
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? "", ...childEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEEP_CHARS);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let gone = false;
  // A test or script that dies must not leave a service running behind it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => {
    gone = true;
    process.off("exit", killOnExit);
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const unwatch = options.watch?.(baseUrl, childEnv);
  if (unwatch) void exited.then(unwatch);
  const proc: ServiceProcess = {
    name,
    pid: child.pid!,
    port,
    baseUrl,
    exited,
    output: () => output,
    async kill(signal = "SIGKILL") {
      if (!gone) child.kill(signal);
      await exited;
    },
    signal(signal) {
      if (!gone) child.kill(signal);
    },
    async stop(timeoutMs = 20_000) {
      if (gone) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await withOutputOf([proc], () =>
      waitFor(`${name} to be ready on ${baseUrl}`, async () => {
        if (gone) throw new Error(`${name} exited before it was ready`);
        const res = await fetch(`${baseUrl}/readyz`).catch(() => null);
        return res?.status === 200 ? true : undefined;
      }, { timeoutMs: options.timeoutMs ?? 90_000, intervalMs: 50 }),
    );
  } catch (error) {
    await proc.kill();
    throw error;
  }
  return proc;
}

/** POST /jobs or /jobs/batch to a process; the created jobs' ids, in order. Throws unless 202. */
export async function submitTo(proc: ServiceProcess, path: "/jobs" | "/jobs/batch", body: unknown): Promise<{ id: string }[]> {
  const res = await fetch(`${proc.baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 202) throw new Error(`POST ${path} on ${proc.name} → ${res.status} ${await res.text()}`);
  const json = (await res.json()) as { jobs?: { id: string }[]; id?: string };
  return json.jobs ?? [{ id: json.id! }];
}

/**
 * Runs `step`; if it throws, the error carries the last lines each process wrote, so that a
 * failure in CI says what the processes saw and not only what the test waited for.
 */
export async function withOutputOf<T>(processes: readonly ServiceProcess[], step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const outputs = processes.map((p) => `--- ${p.name} (pid ${p.pid}) output ---\n${p.output().slice(-4_000) || "(nothing)"}`);
    throw new Error(`${(error as Error).message}\n${outputs.join("\n")}`, { cause: error });
  }
}

/** Stops every process, in parallel; a process that already exited is fine. */
export async function stopAll(processes: readonly ServiceProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => p.stop()));
}
