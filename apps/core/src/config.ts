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

/** Shorter keys can be guessed online; 16 characters is what `openssl rand -hex 8` gives. */
const MIN_API_KEY_CHARS = 16;

/**
 * A blank entry (`API_KEYS=,`) would otherwise leave an empty list, and authentication off
 * without a word: every entry must be a key, and a long one.
 */
const apiKeys = z
  .string()
  .transform((v) => v.split(",").map((s) => s.trim()))
  .refine((keys) => keys.every(Boolean), "has a blank entry (check for a stray comma)")
  .refine((keys) => keys.every((k) => k.length >= MIN_API_KEY_CHARS), `each key must have at least ${MIN_API_KEY_CHARS} characters`);

/**
 * Origins (scheme://host[:port], as browsers send them in `Origin`) whose pages may change state
 * and open the WebSocket besides the service's own. A wildcard would switch the check off, so
 * there is none.
 */
const origins = list.refine(
  (values) => values.every((v) => URL.canParse(v) && new URL(v).origin === v),
  "each entry must be an origin such as https://ops.example.com (scheme, host and port only; no path, no wildcard)",
);

/**
 * Every setting the service reads, parsed once at boot. Each entry documents itself in the
 * README's configuration table; keep the two in step.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  ROLE: z.enum(["all", "api", "worker"]).default("all"),
  // Unset: 127.0.0.1 while no API key is configured, so that an open service is not exposed by
  // default; 0.0.0.0 once keys are on (loadConfig).
  HOST: z.string().min(1).optional(),
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
  API_KEYS: apiKeys.optional(),
  ALLOWED_ORIGINS: origins.default([]),
  // Proxies in front whose X-Forwarded-For/-Proto/-Host are believed (Express's "trust proxy"
  // hop count). 0: the headers are anyone's to send, and ignored.
  TRUST_PROXY_HOPS: int(0, 10).default(0),
  // Sent only on answers to requests that came over TLS (X-Forwarded-Proto from a trusted proxy).
  HSTS_MAX_AGE_S: int(0, 63_072_000).default(31_536_000),
  // Signs the dashboard's session cookies; unset, a random one per process (sessions then end
  // with the process and hold on that process only).
  SESSION_SECRET: z.string().min(32, "must have at least 32 characters").optional(),
  SESSION_TTL_MS: int(1_000, 30 * 86_400_000).default(12 * 3_600_000),
  REALTIME_MAX_CONNECTIONS_PER_CLIENT: int(1, 1_000_000).default(256),
  REALTIME_MAX_ALL_SUBSCRIPTIONS_PER_CLIENT: int(0, 1_000_000).default(16),
  // Node's own defaults are 60 s for the headers and 300 s for a whole request.
  HTTP_HEADERS_TIMEOUT_MS: int(1_000, 600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(1_000, 3_600_000).default(30_000),
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
  Omit<z.infer<typeof envSchema>, "HOST" | "HEARTBEAT_MS" | "WORKER_ID"> & {
    HOST: string;
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
  if (c.HTTP_HEADERS_TIMEOUT_MS > c.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError("Invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)");
  }
  return Object.freeze({
    ...c,
    HOST: c.HOST ?? (c.API_KEYS ? "0.0.0.0" : "127.0.0.1"),
    HEARTBEAT_MS: c.HEARTBEAT_MS ?? Math.max(100, Math.floor(c.LEASE_MS / 3)),
    // Stable across restarts of the same process slot, so that on start-up a worker can take back
    // what its previous run left RUNNING; unique per machine and port.
    WORKER_ID: c.WORKER_ID ?? `${hostname()}:${c.PORT}`,
  });
}
