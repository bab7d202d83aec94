import { execFile, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { freePort } from "./free-port";

const run = promisify(execFile);

/**
 * A PostgreSQL server of a test's own, for tests that stop, restart or starve it: the shared
 * server (TEST_POSTGRES_URL) serves every other test file at once and must never go down.
 * Built with the machine's binaries (TEST_POSTGRES_BIN, else the newest
 * /usr/lib/postgresql/<version>/bin) in a temporary folder, listening on 127.0.0.1 on a free
 * port, trust authentication. PostgreSQL refuses to run as root, so under root every command
 * runs as the `postgres` OS user, which owns the folder.
 */
export interface PostgresServer {
  readonly port: number;
  /** The folder of the cluster (data/) and its log (server.log); removed by destroy(). */
  readonly dir: string;
  /** A database (default `test`, created at start), with `?schema=` when given. */
  url(options?: { database?: string; schema?: string }): string;
  /** Runs SQL as the superuser in the database `test`. */
  sql(text: string): Promise<void>;
  /** Stops the server and waits until it is down. "fast" ends the sessions cleanly; "immediate" is a crash (recovery on the next start). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again, on the same port and data, and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops it if it runs and deletes its folder. */
  destroy(): Promise<void>;
  /** The last lines of the server's log, for failure messages. */
  log(): string;
}

/** The OS user that runs the server's commands, when this process is root. */
const SERVER_USER = "postgres";

export function postgresBinaries(): string {
  if (process.env.TEST_POSTGRES_BIN) return process.env.TEST_POSTGRES_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL binaries under ${root}; set TEST_POSTGRES_BIN to the folder holding initdb and pg_ctl`);
  return join(root, versions[0]!, "bin");
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = postgresBinaries();
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "taskq-pg-"));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  mkdirSync(data);
  if (asRoot) {
    const { uid, gid } = serverUser();
    chownSync(dir, uid, gid);
    chownSync(data, uid, gid);
  }
  const command = (name: string, args: string[]) => (asRoot ? run("runuser", ["-u", SERVER_USER, "--", join(bin, name), ...args]) : run(join(bin, name), args));
  const port = await freePort();
  // The data is thrown away after the test: no fsync. The socket goes to the folder, not /var/run.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c full_page_writes=off`;
  let running = false;
  const pgCtl = (args: string[]) => command("pg_ctl", ["-D", data, "-w", "-t", "60", ...args]);
  // A test process that dies must not leave its server behind.
  const crashOnExit = () => {
    if (running) spawnSync(asRoot ? "runuser" : join(bin, "pg_ctl"), [...(asRoot ? ["-u", SERVER_USER, "--", join(bin, "pg_ctl")] : []), "-D", data, "-m", "immediate", "stop"]);
  };
  process.once("exit", crashOnExit);

  const url = ({ database = "test", schema }: { database?: string; schema?: string } = {}) => `postgresql://postgres@127.0.0.1:${port}/${database}${schema ? `?schema=${schema}` : ""}`;
  const server: PostgresServer = {
    port,
    dir,
    url,
    async sql(text) {
      const client = new Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(text);
      } finally {
        await client.end();
      }
    },
    async start() {
      await pgCtl(["-l", logFile, "-o", options, "start"]);
      running = true;
    },
    async stop(mode = "fast") {
      if (!running) return;
      await pgCtl(["-m", mode, "stop"]);
      running = false;
    },
    async destroy() {
      await server.stop("immediate").catch(() => undefined);
      process.off("exit", crashOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
    log() {
      const result = spawnSync("tail", ["-n", "40", logFile], { encoding: "utf8" });
      return result.stdout ?? "";
    },
  };
  try {
    await command("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
    await server.start();
    const client = new Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres` });
    await client.connect();
    await client.query("CREATE DATABASE test").finally(() => client.end());
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}

/** The OS user that owns the server's files when this process is root (a folder the server writes to must be theirs); null otherwise. */
export function postgresFilesOwner(): { uid: number; gid: number } | null {
  return process.getuid?.() === 0 ? serverUser() : null;
}

function serverUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync("id", [flag, SERVER_USER], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  if (!Number.isInteger(uid) || uid <= 0) throw new Error(`this process is root, and PostgreSQL refuses to run as root: it needs an OS user ${SERVER_USER}`);
  return { uid, gid: id("-g") };
}
