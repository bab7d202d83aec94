import { createServer, type Server } from "node:http";
import express, { type Express } from "express";
import { createApp } from "../../api/src/app";
import { type Authenticator, authenticatorFor, requireApiKey } from "../../api/src/auth";
import { realtimeLimits } from "../../api/src/client-limits";
import { JobFeed } from "../../api/src/job-feed";
import { OriginCheck } from "../../api/src/origin-check";
import { serviceSecurityHeaders } from "../../api/src/security-headers";
import { attachWebSocket } from "../../api/src/websocket";
import type { Config } from "../../core/src/config";
import { JobEvents } from "../../core/src/events";
import { createRegistry } from "../../core/src/handlers/registry";
import { addHealthRoutes } from "../../core/src/http/health.routes";
import { addMetricsRoute } from "../../core/src/http/metrics.routes";
import { methodNotAllowed } from "../../core/src/http/method-not-allowed";
import { problemHandler, routeNotFound } from "../../core/src/http/problem";
import { requestContext } from "../../core/src/http/request-context";
import { toJobResource } from "../../core/src/jobs/job";
import { createLogger, type Logger } from "../../core/src/logger";
import { Metrics, type PoolStats } from "../../core/src/metrics/metrics";
import { openDatabase } from "../../core/src/store/database";
import { JobStore } from "../../core/src/store/job-store";
import { migrate } from "../../core/src/store/migrate";
import { type Notifier, startNotifier } from "../../core/src/store/notifier";
import { startWorker, type Worker } from "../../worker/src/worker";

export interface Service {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: JobStore;
  readonly events: JobEvents;
  /** Carries `events` to and from the other processes sharing the database. */
  readonly notifier: Notifier;
  readonly worker: Worker | null;
  readonly server: Server;
  readonly app: Express;
  /** The port actually bound (PORT=0 picks a free one). */
  readonly port: number;
  /**
   * Settles, with the reason, once the service has stopped itself because it cannot go on (its
   * SQLite writer thread died). The process entry then exits non-zero; never settles otherwise.
   */
  readonly stoppedByFault: Promise<Error>;
  stop(): Promise<void>;
}

/**
 * Starts one process in its ROLE: "all" (API + dispatcher + threads), "api" or "worker".
 * Order: migrate, open the store, start the worker, then listen. stop() reverses it and runs
 * every step even if one throws.
 */
export async function startService(config: Config, logger = defaultLogger(config)): Promise<Service> {
  const applied = await migrate(config.DATABASE_URL, { busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS });
  if (applied.length > 0) logger.info("migrations applied", { applied });
  const db = await openDatabase(config.DATABASE_URL, { busyTimeoutMs: config.SQLITE_BUSY_TIMEOUT_MS });
  const store = new JobStore(db, logger);
  const events = new JobEvents();
  const registry = createRegistry({ includeTestHandlers: config.ENABLE_TEST_HANDLERS });

  let notifier: Notifier | null = null;
  let worker: Worker | null = null;
  try {
    notifier = await startNotifier(db, events, logger, { sqlitePoll: { fastMs: config.SQLITE_SIGNAL_POLL_MS, idleMs: config.SQLITE_SIGNAL_IDLE_POLL_MS } });
    worker = config.ROLE === "api" ? null : await startWorker({ config, logger, store, registry, events });
  } catch (error) {
    await notifier?.close();
    await store.close();
    throw error;
  }
  const readiness: Record<string, () => void> = worker ? { pool: () => assertPoolStarted(worker) } : {};
  const metrics = new Metrics({
    events,
    logger,
    countByStatus: () => store.countByStatus(),
    pools: worker ? () => poolStats(worker) : undefined,
    storageFailures: () => store.health.failures(),
  });
  const feed = config.ROLE === "worker" ? null : new JobFeed(store, events, (row) => toJobResource(row, { exposeStack: config.EXPOSE_ERROR_STACK }), logger);
  // One of each per process: the HTTP routes and the WebSocket share the sessions' secret and the counts.
  const auth = authenticatorFor(config);
  const origins = new OriginCheck(config.ALLOWED_ORIGINS);
  const limits = realtimeLimits(config);
  const app = feed
    ? createApp({ config, logger, store, registry, events, metrics, feed, auth, origins, limits, readiness })
    : workerApp(logger, config, auth, metrics, { database: () => store.ping(), ...readiness });
  const server = await listen(app, config);
  const websocket = feed ? attachWebSocket(server, { app, feed, registry, config, logger, metrics, auth, origins, limits }) : null;
  const port = (server.address() as { port: number }).port;
  logger.info("service started", { url: serviceUrl(config.HOST, port), role: config.ROLE, port, database: db.dialect, authentication: auth ? "api keys" : "off", workerId: worker ? config.WORKER_ID : undefined });
  if (!auth && !isLoopback(config.HOST)) {
    logger.warn("API keys are off and the service listens beyond this machine: anyone who can reach it can submit, read and cancel jobs. Set API_KEYS.", { host: config.HOST });
  }

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info("service stopping");
      const steps: [string, () => Promise<unknown>][] = [
        // Live connections first: they never end on their own, and the HTTP server waits for them.
        [
          "realtime",
          async () => {
            websocket?.close();
            feed?.close();
          },
        ],
        ["http", () => closeServer(server)],
        ["worker", async () => worker?.stop()],
        ["notifier", () => notifier.close()],
        ["database", () => store.close()],
        ["metrics", async () => metrics.close()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (error) {
          logger.error("shutdown step failed", { step: name, error });
        }
      }
      logger.info("service stopped");
    })());

  // Without its writer thread a SQLite process can neither store, claim nor record a job, and
  // nothing would reap what it holds: it stops, so that a supervisor starts a sound one, which
  // takes back the jobs this one left RUNNING (same WORKER_ID) or reaps them when their leases end.
  const stoppedByFault = new Promise<Error>((resolve) => {
    db.writer?.onExit((error) => {
      logger.error("the SQLite writer thread stopped; stopping the service", { error });
      void stop().then(() => resolve(error));
    });
  });
  db.writer?.onCheckpointerStopped((error) => {
    logger.warn("the SQLite checkpointer thread stopped; the writer checkpoints its own commits from now on", { error });
  });
  return { config, logger, store, events, notifier, worker, server, app, port, stoppedByFault, stop };
}

export function defaultLogger(config: Config): Logger {
  return createLogger({ level: config.LOG_LEVEL, pretty: config.NODE_ENV !== "production", defaultMeta: { role: config.ROLE } });
}

function assertPoolStarted(worker: Worker): void {
  if (worker.pools.threadCount() === 0) throw new Error("no worker threads are running");
}

function poolStats(worker: Worker): Record<string, PoolStats> {
  const stats = (kind: "cpu" | "io"): PoolStats => ({ capacity: worker.pools.capacity(kind), busy: worker.dispatcher.busySlots(kind), utilization: worker.pools.utilization(kind) });
  return { cpu: stats("cpu"), io: stats("io") };
}

/** A worker process has no job routes, but answers /healthz, /readyz and /metrics on its PORT, with the API's headers. */
function workerApp(logger: Logger, config: Config, auth: Authenticator | null, metrics: Metrics, readiness: Record<string, () => Promise<void> | void>): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.TRUST_PROXY_HOPS);
  app.use(requestContext(app, logger));
  app.use(metrics.httpMiddleware());
  app.use(serviceSecurityHeaders(config));
  addHealthRoutes(app, readiness);
  if (auth) app.use(requireApiKey(auth));
  addMetricsRoute(app, metrics);
  app.use(methodNotAllowed({ "/healthz": ["GET"], "/readyz": ["GET"], "/metrics": ["GET"] }));
  app.use(routeNotFound);
  app.use(problemHandler({}));
  return app;
}

/** The URL a person on this machine can open: a wildcard address is reached through loopback. */
export function serviceUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return `http://${reachable}:${port}`;
}

function listen(app: Express, config: Config): Promise<Server> {
  const server = createServer(
    {
      // A client that sends its headers or its body a byte at a time is cut off at these deadlines
      // (408, or the socket closed if an answer already went out) instead of holding a socket.
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      // How often Node checks those deadlines (its default, 30 s, would let a slow request run
      // that much past its deadline); one timer per server.
      connectionsCheckingInterval: Math.min(1_000, config.HTTP_HEADERS_TIMEOUT_MS),
    },
    app,
  );
  // Keep-alive sockets of load balancers outlive Node's 5 s default; idle ones close on stop.
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 5_000);
  force.unref();
  await closed;
  clearTimeout(force);
}
