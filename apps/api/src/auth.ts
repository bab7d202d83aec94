import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { HttpProblem } from "../../core/src/http/problem";

/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual: equal lengths
 * always, and no early exit that would leak how much of a key matched. Browsers cannot set
 * headers on EventSource or WebSocket, so `?api_key=` is accepted too.
 */
export function requireApiKey(keys: readonly string[]): RequestHandler {
  const check = apiKeyCheck(keys);
  return (req, _res, next) => {
    const refused = check(req);
    if (refused) throw refused;
    next();
  };
}

/** The check itself, for requests that never reach Express (WebSocket upgrades): null when the key is good. */
export function apiKeyCheck(keys: readonly string[]): (req: IncomingMessage) => HttpProblem | null {
  const digests = keys.map(digest);
  return (req) => {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    const presented = match?.[1] ?? new URL(req.url ?? "/", "http://x").searchParams.get("api_key");
    if (!presented) return unauthorized("Send Authorization: Bearer <key> (browsers: add ?api_key=<key> to the URL).");
    const candidate = digest(presented);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, candidate) || ok;
    return ok ? null : unauthorized("The API key is not valid.");
  };
}

const digest = (key: string) => createHash("sha256").update(key).digest();

const unauthorized = (detail: string) =>
  new HttpProblem(401, "unauthorized", "Unauthorized", detail, undefined, { "WWW-Authenticate": 'Bearer realm="taskq"' });
