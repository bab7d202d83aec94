import type { RequestHandler } from "express";
import { HttpProblem } from "./problem";

/**
 * Answers 405 with `Allow` when a request's path is one the app serves but its method is not.
 * Mounted after the routes: a request that gets here was not answered by any of them. `paths`
 * maps OpenAPI path templates (`/jobs/{id}`) to the methods each serves; like Express's routing,
 * matching ignores case and a trailing slash. HEAD is allowed wherever GET is (Express answers it).
 */
export function methodNotAllowed(paths: Record<string, readonly string[]>): RequestHandler {
  const routes = concreteFirst(Object.keys(paths)).map((template) => {
    const served = paths[template]!.flatMap((m) => (m.toUpperCase() === "GET" ? ["GET", "HEAD"] : [m.toUpperCase()]));
    return { pattern: templatePattern(template), served, allow: served.join(", ") };
  });
  return (req, _res, next) => {
    const route = routes.find((r) => r.pattern.test(req.path));
    if (!route || route.served.includes(req.method)) return next();
    throw new HttpProblem(405, "method-not-allowed", "Method not allowed", `${req.method} is not served at ${req.path}; allowed: ${route.allow}.`, undefined, { Allow: route.allow });
  };
}

/** As OpenAPI matches paths: a path without parameters (`/jobs/batch`) before a template that also matches it (`/jobs/{id}`). */
export function concreteFirst(templates: readonly string[]): string[] {
  return [...templates].sort((a, b) => Number(a.includes("{")) - Number(b.includes("{")));
}

/** An OpenAPI path template (`/jobs/{id}`) as a pattern over request paths, matching as Express does (any case, optional trailing slash). */
export function templatePattern(template: string): RegExp {
  const parts = template.split(/\{[^}]+\}/).map((literal) => literal.replace(/[.*+?^$()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join("[^/]+")}/?$`, "i");
}
