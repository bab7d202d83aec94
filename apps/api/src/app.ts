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
import { requireApiKey } from "./auth";
import { addDashboardAssets, dashboardPage } from "./dashboard.routes";
import { jobEventRoutes } from "./job-events.routes";
import type { JobFeed } from "./job-feed";
import { JobSubmitter } from "./job-submitter";
import { jobRoutes } from "./jobs.routes";
import { documentedMethods, openApiDocument } from "./openapi";
import { securityHeaders } from "./security-headers";
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
  /** Extra readiness checks (the all-in-one process adds its pool). */
  readiness?: Record<string, () => Promise<void> | void>;
}

/** Builds the HTTP API without listening, so tests can drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, store, registry, events, metrics, feed } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.use(requestContext(app, logger));
  app.use(metrics.httpMiddleware());
  addHealthRoutes(app, { database: () => store.ping(), ...deps.readiness });
  app.use(
    securityHeaders({
      // Swagger UI's page needs its own inline bootstrap; everything else stays strict.
      // The service speaks plain HTTP (TLS belongs to the proxy in front); upgrading its own
      // subresources to https would break /docs and /dashboard when opened by host name.
      contentSecurityPolicy: { directives: { "script-src": ["'self'", "'unsafe-inline'"], "upgrade-insecure-requests": null } },
    }),
  );
  addDashboardAssets(app);
  if (config.API_KEYS && config.API_KEYS.length > 0) app.use(requireApiKey(config.API_KEYS));
  addMetricsRoute(app, metrics);

  // The job routes first: every layer before them is passed by each submission (~5k
  // instructions a layer, callgrind), and none of the documentation's paths is a job's.
  const submitter = new JobSubmitter(store, registry, config, events);
  app.use(jobRoutes({ store, submitter, registry, config, events }));
  app.use(jobEventRoutes({ store, feed, heartbeatMs: config.REALTIME_HEARTBEAT_MS, metrics }));
  app.use(statsRoutes(store));

  const document = openApiDocument({ registry, apiKeys: Boolean(config.API_KEYS?.length) });
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
      mapUnexpected: (error) => (isStorageError(error) ? new HttpProblem(503, "storage-unavailable", "Storage unavailable", "The database did not accept the request; nothing was stored. Retry later.", undefined, { "Retry-After": "1" }) : null),
    }),
  );
  return app;
}

/** Errors from Prisma or its driver adapters: the database failed, not the client. */
function isStorageError(error: unknown): boolean {
  const name = (error as { name?: string; constructor?: { name?: string } })?.constructor?.name ?? "";
  return /^(PrismaClient|DriverAdapter|SqliteError|SqliteWriterStoppedError)/.test(name) || /SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY)/.test(String((error as Error)?.message));
}
