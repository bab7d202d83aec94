import type { Request, RequestHandler, Response } from "express";
import helmet, { type HelmetOptions } from "helmet";
import type { Config } from "../../core/src/config";

/**
 * The headers of every answer, from every role: helmet's defaults (scripts from 'self' only, on
 * /dashboard and /docs too), answers not stored by browsers or proxies (job states change, and
 * they may hold payloads), and HSTS only where it means something.
 *
 * The service speaks plain HTTP (TLS belongs to the proxy in front): upgrading its own
 * subresources to https would break /docs and /dashboard when opened by host name, and HSTS on a
 * plain-HTTP answer is ignored by browsers at best. HSTS goes on answers to requests that came
 * over TLS, which the service only knows from a trusted proxy's X-Forwarded-Proto (req.secure).
 */
export function serviceSecurityHeaders(config: Config): RequestHandler {
  return securityHeaders(
    { contentSecurityPolicy: { directives: { "upgrade-insecure-requests": null } }, strictTransportSecurity: false },
    // Without a trusted proxy no request is known to have come over TLS: no per-request test.
    { hstsMaxAgeS: config.TRUST_PROXY_HOPS > 0 ? config.HSTS_MAX_AGE_S : 0 },
  );
}

/**
 * helmet's headers, worked out once and then set on every answer. With directives that are
 * all strings (no per-request nonce) helmet sets the same headers on every request, and
 * running its dozen middlewares each time was 3% of the main thread's instructions per
 * submission (callgrind: 1,128k → 1,091k per POST /jobs, same headers).
 * Static files (express.static) set their own Cache-Control over the no-store set here.
 */
export function securityHeaders(options: HelmetOptions, extra: { hstsMaxAgeS?: number } = {}): RequestHandler {
  const directives = typeof options.contentSecurityPolicy === "object" ? Object.values(options.contentSecurityPolicy.directives ?? {}) : [];
  if (directives.flat().some((value) => typeof value === "function")) {
    throw new Error("securityHeaders sets the same headers on every answer: a directive computed per request (a nonce) needs helmet itself");
  }
  const headers: [string, string][] = [["Cache-Control", "no-store"]];
  const recorder = {
    setHeader: (name: string, value: string | number) => headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  // helmet's middlewares run synchronously and report a bad option through next().
  helmet(options)({} as Request, recorder as unknown as Response, (error?: unknown) => {
    if (error) throw error;
  });
  const hsts = extra.hstsMaxAgeS ? `max-age=${extra.hstsMaxAgeS}; includeSubDomains` : null;
  return (req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    if (hsts !== null && req.secure) res.setHeader("Strict-Transport-Security", hsts);
    next();
  };
}
