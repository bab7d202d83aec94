import { join } from "node:path";
import express, { type Express, Router } from "express";
import { projectRoot } from "../../core/src/paths";

const DASHBOARD_DIR = join(projectRoot(), "apps", "api", "public", "dashboard");

/**
 * The dashboard's script and stylesheet: code, no data, so they are served without an API key
 * (a page cannot attach a key to its own <script> loads). Mounted before the key check, at their
 * path, so that other requests pass them at the cost of a path test (health.routes.ts).
 */
export function addDashboardAssets(app: Express): void {
  app.use("/dashboard/assets", express.static(join(DASHBOARD_DIR, "assets"), { fallthrough: false, index: false, maxAge: "5m" }));
}

/** The dashboard page itself: behind the API key when keys are on (open it as /dashboard?api_key=…). */
export function dashboardPage(): Router {
  const router = Router();
  router.get("/dashboard", (_req, res) => {
    res.set("Cache-Control", "no-store").sendFile(join(DASHBOARD_DIR, "index.html"));
  });
  return router;
}
