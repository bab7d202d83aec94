import { randomUUID } from "node:crypto";
import type { Express, RequestHandler } from "express";
import type { Logger } from "../logger";

declare module "express-serve-static-core" {
  interface Request {
    id: string;
    log: Logger;
  }
}

const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every request of `app` an id (the caller's X-Request-Id if it is sane), a child logger,
 * and an access-log line.
 *
 * Under load most requests never log: the child logger is made on first use, and the access
 * line's listener is only added when its level (http) is on. Both were 2–3% of the main thread
 * under a submit load at the default level (--cpu-prof).
 */
export function requestContext(app: Express, logger: Logger): RequestHandler {
  Object.defineProperty(app.request, "log", {
    configurable: true,
    get(this: Express["request"]) {
      const log = logger.child({ requestId: this.id });
      Object.defineProperty(this, "log", { value: log, configurable: true });
      return log;
    },
  });
  const accessLog = logger.isLevelEnabled("http");
  return (req, res, next) => {
    const incoming = req.get("x-request-id");
    req.id = incoming && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.set("X-Request-Id", req.id);
    if (accessLog) {
      const started = performance.now();
      res.on("finish", () => {
        req.log.http("request", {
          method: req.method,
          path: redactSecrets(req.originalUrl),
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 100) / 100,
        });
      });
    }
    next();
  };
}

/**
 * Browsers pass API keys as ?api_key= (EventSource, WebSocket, the dashboard's first visit):
 * never write one to a log or echo it. Each parameter's name is compared as the server decodes
 * it (`api%5Fkey` is `api_key` too), in any case.
 */
export function redactSecrets(url: string): string {
  const query = url.indexOf("?");
  if (query === -1) return url;
  const params = url
    .slice(query + 1)
    .split("&")
    .map((param) => {
      const equals = param.indexOf("=");
      const name = equals === -1 ? param : param.slice(0, equals);
      return decodedName(name).toLowerCase() === "api_key" ? `${name}=[redacted]` : param;
    });
  return `${url.slice(0, query)}?${params.join("&")}`;
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, " "));
  } catch {
    return name;
  }
}
