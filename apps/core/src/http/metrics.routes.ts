import { Router } from "express";
import type { Metrics } from "../metrics/metrics";

/** GET /metrics in the Prometheus text format, for every role. */
export function metricsRoutes(metrics: Metrics): Router {
  const router = Router();
  router.get("/metrics", async (_req, res) => {
    const { contentType, body } = await metrics.scrape();
    res.type(contentType).send(body);
  });
  return router;
}
