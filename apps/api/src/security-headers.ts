import type { Request, RequestHandler, Response } from "express";
import helmet, { type HelmetOptions } from "helmet";

/**
 * helmet's headers, worked out once and then set on every answer. With directives that are
 * all strings (no per-request nonce) helmet sets the same headers on every request, and
 * running its dozen middlewares each time was 3% of the main thread's instructions per
 * submission (callgrind: 1,128k → 1,091k per POST /jobs, same headers).
 */
export function securityHeaders(options: HelmetOptions): RequestHandler {
  const directives = typeof options.contentSecurityPolicy === "object" ? Object.values(options.contentSecurityPolicy.directives ?? {}) : [];
  if (directives.flat().some((value) => typeof value === "function")) {
    throw new Error("securityHeaders sets the same headers on every answer: a directive computed per request (a nonce) needs helmet itself");
  }
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: string | number) => headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  // helmet's middlewares run synchronously and report a bad option through next().
  helmet(options)({} as Request, recorder as unknown as Response, (error?: unknown) => {
    if (error) throw error;
  });
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
