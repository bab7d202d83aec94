import express, { type Express, type RequestHandler } from "express";
import swaggerUi from "swagger-ui-express";
import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import type { HandlerRegistry } from "../../core/src/handlers/registry";
import { addHealthRoutes } from "../../core/src/http/health.routes";
import { HttpProblem, problemHandler, routeNotFound } from "../../core/src/http/problem";
import { methodNotAllowed } from "../../core/src/http/method-not-allowed";
import { requestContext } from "../../core/src/http/request-context";
import { addMetricsRoute } from "../../core/src/http/metrics.routes";
import type { Logger } from "../../core/src/logger";
import type { Metrics } from "../../core/src/metrics/metrics";
import type { JobStore } from "../../core/src/store/job-store";
import { type StorageFailureReason, StorageUnavailableError } from "../../core/src/store/storage-error";
import { type Authenticator, exchangeKeyForSession, requireApiKey } from "./auth";
import type { RealtimeLimits } from "./client-limits";
import { addDashboardAssets, dashboardPage } from "./dashboard.routes";
import { isEventStreamRequest, jobEventRoutes } from "./job-events.routes";
import type { JobFeed } from "./job-feed";
import { JobSubmitter } from "./job-submitter";
import { jobRoutes } from "./jobs.routes";
import { documentedMethods, openApiDocument } from "./openapi";
import { type OriginCheck, refuseCrossOriginWrites } from "./origin-check";
import { serviceSecurityHeaders } from "./security-headers";
import { statsRoutes } from "./stats.routes";
import { upgradeRequired, WS_PATH } from "./websocket";

export interface AppDeps {
  config: Config;
  logger: Logger;
  store: JobStore;
  registry: HandlerRegistry;
  events: JobEvents;
  metrics: Metrics;
  /** Live updates for SSE streams (the WebSocket endpoint shares it). */
  feed: JobFeed;
  /** Null when API keys are off. Shared with the WebSocket endpoint, like the two below. */
  auth: Authenticator | null;
  origins: OriginCheck;
  limits: RealtimeLimits;
  /** Extra readiness checks (the all-in-one process adds its pool). */
  readiness?: Record<string, () => Promise<void> | void>;
}

/** Builds the HTTP API without listening, so tests can drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, store, registry, events, metrics, feed, auth, origins, limits } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.TRUST_PROXY_HOPS);
  app.use(requestContext(app, logger));
  app.use(metrics.httpMiddleware());
  app.use(serviceSecurityHeaders(config));
  addHealthRoutes(app, { database: () => store.ping(), ...deps.readiness });
  addDashboardAssets(app);
  app.use(refuseCrossOriginWrites(origins));
  if (auth) {
    app.use(exchangeKeyForSession(auth));
    app.use(requireApiKey(auth, isEventStreamRequest));
  }
  addMetricsRoute(app, metrics);

  // The job routes first: every layer before them is passed by each submission (~5k
  // instructions a layer, callgrind), and none of the documentation's paths is a job's.
  const submitter = new JobSubmitter(store, registry, config, events);
  app.use(jobRoutes({ store, submitter, registry, config, events }));
  app.use(jobEventRoutes({ store, feed, heartbeatMs: config.REALTIME_HEARTBEAT_MS, metrics, limits }));
  app.use(statsRoutes(store));

  const document = openApiDocument({ registry, apiKeys: auth !== null });
  app.get("/openapi.json", (_req, res) => {
    res.json(document);
  });
  app.get(WS_PATH, upgradeRequired);
  // swagger-ui-express reads the document from the request, so the page shows the one served above.
  const withDocument: RequestHandler = (req, _res, next) => {
    (req as typeof req & { swaggerDoc: unknown }).swaggerDoc = document;
    next();
  };
  app.use("/docs", withDocument, swaggerUi.serveFiles(undefined, { customSiteTitle: "taskq API" }), swaggerUi.setup(undefined, { customSiteTitle: "taskq API" }));
  app.use(dashboardPage());
  app.use(methodNotAllowed(documentedMethods(document)));
  app.use(routeNotFound);
  app.use(
    problemHandler({
      // The database failed, not the client. The store logs the outage (StorageHealth), not each refusal.
      mapUnexpected: (error) => (error instanceof StorageUnavailableError ? storageProblem(error.reason) : null),
    }),
  );
  return app;
}

/** What the operator reads first: whether the disk is full. Never a path or a driver's message. */
const STORAGE_PROBLEMS: Record<StorageFailureReason, { detail: string; retryAfterS: number }> = {
  "disk-full": { detail: "The database's disk is full; nothing was stored. Retry once space has been freed.", retryAfterS: 10 },
  unavailable: { detail: "The database did not accept the request; nothing was stored. Retry later.", retryAfterS: 1 },
};

function storageProblem(reason: StorageFailureReason): HttpProblem {
  const { detail, retryAfterS } = STORAGE_PROBLEMS[reason];
  return new HttpProblem(503, "storage-unavailable", "Storage unavailable", detail, undefined, { "Retry-After": String(retryAfterS) });
}
