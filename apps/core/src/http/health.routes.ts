import { Router } from "express";

/**
 * /healthz: the process answers. /readyz: every readiness check passes (database reachable,
 * pool started…). Served by every role, on its PORT, and never behind an API key.
 */
export function healthRoutes(readiness: Record<string, () => Promise<void> | void>): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (req, res) => {
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
  return router;
}
