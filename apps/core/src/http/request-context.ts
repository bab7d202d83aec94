import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import type { Logger } from "../logger";

declare module "express-serve-static-core" {
  interface Request {
    id: string;
    log: Logger;
  }
}

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Gives every request an id (the caller's X-Request-Id if it is sane), a child logger, and an access-log line. */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get("x-request-id");
    req.id = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.log = logger.child({ requestId: req.id });
    res.set("X-Request-Id", req.id);
    const started = performance.now();
    res.on("finish", () => {
      req.log.http("request", {
        method: req.method,
        path: redactSecrets(req.originalUrl),
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 100) / 100,
      });
    });
    next();
  };
}

/** Browsers pass API keys as ?api_key= (EventSource, WebSocket): never write one to a log. */
export function redactSecrets(url: string): string {
  return url.replace(/([?&]api_key=)[^&#]*/gi, "$1[redacted]");
}
