import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

/** The compiled process entry, as `npm start` runs it. */
export const SERVICE_MAIN = join(__dirname, "..", "..", "src", "main.js");

export interface ServiceProcess {
  readonly baseUrl: string;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** The last lines the process wrote (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown code runs, as in a crash or power loss. Resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the graceful exit; SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | string>;
}

export interface ServiceProcessOptions {
  /** A fixed port; by default a free one is picked. */
  port?: number;
  readyTimeoutMs?: number;
}

const OUTPUT_TAIL_CHARS = 20_000;

/**
 * Runs the service as a child process (`node dist/apps/service/src/main.js`) with `env` added
 * to this process's environment, and resolves once /readyz answers 200. Shared by the crash
 * test, the chaos script and multi-process tests.
 */
export async function startServiceProcess(env: Record<string, string>, options: ServiceProcessOptions = {}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const childEnv: NodeJS.ProcessEnv = { ...process.env, HOST: "127.0.0.1", ...env, PORT: String(port) };
  // jest's flags are for jest's VM; the service runs as `npm start` runs it.
  delete childEnv.NODE_OPTIONS;
  const child = spawn(process.execPath, [SERVICE_MAIN], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  let gone = false;
  // A test or script that dies must not leave a service running behind it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void exited.then(() => {
    gone = true;
    process.off("exit", killOnExit);
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const proc: ServiceProcess = {
    baseUrl,
    pid: child.pid!,
    exited,
    output: () => tail,
    async kill() {
      if (!gone) child.kill("SIGKILL");
      await exited;
    },
    async stop(timeoutMs = 30_000) {
      if (gone) return exited;
      child.kill("SIGTERM");
      const force = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(force);
      }
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (gone) throw new Error(`The service process exited with ${await exited} before it was ready:\n${tail}`);
    const res = await fetch(`${baseUrl}/readyz`).catch(() => null);
    if (res?.status === 200) break;
    if (Date.now() > deadline) {
      await proc.kill();
      throw new Error(`The service process on ${baseUrl} was not ready after ${options.readyTimeoutMs ?? 30_000} ms:\n${tail}`);
    }
    await delay(50);
  }
  return proc;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
