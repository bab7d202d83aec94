import { availableParallelism, hostname } from "node:os";
import { z } from "zod";

const cores = availableParallelism();

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const flag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const list = z
  .string()
  .transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean));

/**
 * Every setting the service reads, parsed once at boot. Each entry documents itself in the
 * README's configuration table; keep the two in step.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  ROLE: z.enum(["all", "api", "worker"]).default("all"),
  HOST: z.string().min(1).default("0.0.0.0"),
  PORT: int(0, 65535).default(8000),
  DATABASE_URL: z
    .string()
    .regex(/^(file:|postgres(ql)?:\/\/)/, "must start with file: (SQLite) or postgresql:// (PostgreSQL)")
    .default("file:./data/jobs.db"),
  LOG_LEVEL: z.enum(["error", "warn", "info", "http", "verbose", "debug", "silly"]).default("info"),
  WORKER_ID: z.string().min(1).max(200).optional(),
  WORKER_JOB_TYPES: list.optional(),
  CPU_THREADS: int(1, 1024).default(cores),
  IO_THREADS: int(1, 1024).default(Math.max(1, Math.ceil(cores / 2))),
  // 256: two claim batches of 128 in flight (the Dispatcher's CLAIM_SHARE), one being claimed
  // while the other's outcomes are recorded; 128 rows is where a claim's fixed cost stops
  // mattering. With SQLite's writer thread, alternated drains on 2 cores: 128 → 256 slots
  // 18.5–19.0k → 20.2–21.7k jobs/s; 384 gave no more. Before the writer thread a bigger
  // window cost bulk submission (the main thread ran every statement); it no longer does.
  IO_CONCURRENCY_PER_THREAD: int(1, 10_000).default(256),
  THREAD_MAX_OLD_GENERATION_MB: int(16, 65_536).default(256),
  // V8's own default young generation (tens of MB) filled with short-lived garbage in every
  // busy thread: 8 MB took 15 MB off the peak RSS with 1M PENDING jobs (289, 288 → 270, 275 MB)
  // and cost nothing measurable in the drain, end-to-end and hash stages (alternated runs).
  THREAD_MAX_YOUNG_GENERATION_MB: int(1, 1_024).default(8),
  LEASE_MS: int(1_000).default(30_000),
  HEARTBEAT_MS: int(100).optional(),
  REAPER_INTERVAL_MS: int(100).default(5_000),
  POLL_INTERVAL_MS: int(10).default(1_000),
  DEFAULT_MAX_ATTEMPTS: int(1, 100).default(3),
  DEFAULT_TIMEOUT_MS: int(1, 86_400_000).default(300_000),
  RETRY_BASE_MS: int(0).default(1_000),
  RETRY_FACTOR: int(1, 100).default(2),
  RETRY_MAX_MS: int(0).default(300_000),
  ABORT_GRACE_MS: int(0).default(1_000),
  SHUTDOWN_GRACE_MS: int(0).default(10_000),
  RETENTION_MS: int(0).default(7 * 24 * 3_600_000),
  RETENTION_SWEEP_MS: int(1_000).default(60_000),
  SQLITE_BUSY_TIMEOUT_MS: int(0).default(5_000),
  // How often a process checks whether another process wrote to the SQLite file (one cheap
  // `PRAGMA data_version`); the delay with which workers in other processes see a submission.
  SQLITE_SIGNAL_POLL_MS: int(1, 1_000).default(5),
  // The same check once no connection has written for a second: an idle process then wakes 20
  // times a second instead of 200 (an idle all-in-one used 2.4% of a core, most of it this).
  SQLITE_SIGNAL_IDLE_POLL_MS: int(1, 10_000).default(50),
  API_KEYS: list.optional(),
  BODY_LIMIT_BYTES: int(1_024).default(1_048_576),
  EXPOSE_ERROR_STACK: flag.default(false),
  REALTIME_HEARTBEAT_MS: int(100, 3_600_000).default(15_000),
  WS_MAX_BUFFERED_BYTES: int(1_024).default(4_194_304),
  EMAIL_DELAY_MS: int(0, 60_000).default(100),
  ENABLE_TEST_HANDLERS: flag.default(false),
  // Test only: the file the chaos handler's `record` mode appends "<job id> <pid>" lines to, so
  // multi-process tests can count every execution exactly.
  CHAOS_EXECUTION_LOG: z.string().min(1).optional(),
});

/** Every environment variable the service reads (deployment files are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export type Config = Readonly<
  Omit<z.infer<typeof envSchema>, "HEARTBEAT_MS" | "WORKER_ID"> & {
    HEARTBEAT_MS: number;
    WORKER_ID: string;
  }
>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment into a frozen Config, or throws a ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as a shell user expects from `FOO= npm start`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  return Object.freeze({
    ...c,
    HEARTBEAT_MS: c.HEARTBEAT_MS ?? Math.max(100, Math.floor(c.LEASE_MS / 3)),
    // Stable across restarts of the same process slot, so that on start-up a worker can take back
    // what its previous run left RUNNING; unique per machine and port.
    WORKER_ID: c.WORKER_ID ?? `${hostname()}:${c.PORT}`,
  });
}
