import { join } from "node:path";
import express, { type Express, Router } from "express";
import { notFound } from "../../core/src/http/problem";
import { projectRoot } from "../../core/src/paths";

const DASHBOARD_DIR = join(projectRoot(), "apps", "api", "public", "dashboard");

/**
 * The dashboard's script and stylesheet: code, no data, so they are served without an API key
 * (a page cannot attach a key to its own <script> loads). Mounted before the key check, at their
 * path, so that other requests pass them at the cost of a path test (health.routes.ts).
 * A file that is not there, or a path that tries to leave the folder, is the client's mistake:
 * a 404 problem naming the URL path, never the file's.
 */
export function addDashboardAssets(app: Express): void {
  app.use("/dashboard/assets", express.static(join(DASHBOARD_DIR, "assets"), { index: false, redirect: false, maxAge: "5m" }), (req) => {
    throw notFound(`No dashboard asset at ${req.originalUrl.split("?")[0]}`);
  });
}

/** The dashboard page itself: behind the API key when keys are on (open it once as /dashboard?api_key=…). */
export function dashboardPage(): Router {
  const router = Router();
  router.get("/dashboard", (_req, res) => {
    res.sendFile(join(DASHBOARD_DIR, "index.html"));
  });
  return router;
}
