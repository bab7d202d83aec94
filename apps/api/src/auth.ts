import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { HttpProblem } from "../../core/src/http/problem";

/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual: equal lengths
 * always, and no early exit that would leak how much of a key matched.
 */
export function requireApiKey(keys: readonly string[]): RequestHandler {
  const digests = keys.map(digest);
  return (req, _res, next) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    const presented = match?.[1] ?? new URL(req.originalUrl, "http://x").searchParams.get("api_key");
    if (!presented) throw unauthorized("Send Authorization: Bearer <key>.");
    const candidate = digest(presented);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, candidate) || ok;
    if (!ok) throw unauthorized("The API key is not valid.");
    next();
  };
}

const digest = (key: string) => createHash("sha256").update(key).digest();

const unauthorized = (detail: string) =>
  new HttpProblem(401, "unauthorized", "Unauthorized", detail, undefined, { "WWW-Authenticate": 'Bearer realm="taskq"' });
