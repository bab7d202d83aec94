import type { Express } from "express";

/**
 * Adds /healthz (the process answers) and /readyz (every readiness check passes: database
 * reachable, pool started…) to `app`. Served by every role, on its PORT, and never behind an
 * API key, so they come before the key check.
 *
 * Routes of the app itself rather than a Router of their own: every request passes these on
 * its way to its own route, and entering a nested Router cost ~13k instructions a request
 * (callgrind), where a route of another path costs a path test.
 */
export function addHealthRoutes(app: Express, readiness: Record<string, () => Promise<void> | void>): void {
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (req, res) => {
    const checks: Record<string, string> = {};
    let ready = true;
    for (const [name, check] of Object.entries(readiness)) {
      try {
        await check();
        checks[name] = "ok";
      } catch (error) {
        ready = false;
        checks[name] = "failing";
        req.log?.warn("readiness check failed", { check: name, error });
      }
    }
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready", checks });
  });
}
