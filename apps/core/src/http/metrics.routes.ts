import type { Express } from "express";
import type { Metrics } from "../metrics/metrics";

/** Adds GET /metrics, in the Prometheus text format, to `app` (every role); a route of the app, like the health routes. */
export function addMetricsRoute(app: Express, metrics: Metrics): void {
  app.get("/metrics", async (_req, res) => {
    const { contentType, body } = await metrics.scrape();
    res.type(contentType).send(body);
  });
}
