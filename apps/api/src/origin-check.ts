import type { Request, RequestHandler } from "express";
import { HttpProblem } from "../../core/src/http/problem";

/** Methods a browser sends cross-site without asking first only for reads; every other one changes state. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The Origin check against cross-site request forgery and WebSocket hijacking (OWASP's CSRF and
 * WebSocket cheat sheets): a browser names the page that makes a request in `Origin`, on every
 * WebSocket handshake and on every request that is not a GET or HEAD, and a page cannot forge it.
 * Allowed: no Origin at all (curl, SDKs, the CLI, workers: not a browser), the service's own
 * origin, and the origins listed in ALLOWED_ORIGINS. Everything else, `null` included (sandboxed
 * frames, file:// pages), is refused before the request does anything.
 *
 * "Own origin" compares host and port with the Host the request was sent to (X-Forwarded-Host
 * when TRUST_PROXY_HOPS trusts the proxy), not the scheme: TLS usually ends at a proxy in front,
 * so the scheme the service sees is not the one the browser used.
 */
export class OriginCheck {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.allowed = new Set(allowedOrigins);
  }

  /** null when `req` may go on, else the 403 problem to answer with. */
  check(req: Request): HttpProblem | null {
    const origin = req.get("origin");
    if (origin === undefined || this.allowed.has(origin) || sameHost(origin, req.host)) return null;
    return new HttpProblem(
      403,
      "cross-origin-request",
      "Cross-origin request refused",
      "A page of another origin may not change jobs or follow them live here; an operator can list trusted origins in ALLOWED_ORIGINS.",
    );
  }
}

/** Refuses state-changing requests (anything but GET, HEAD, OPTIONS) from other origins. */
export function refuseCrossOriginWrites(check: OriginCheck): RequestHandler {
  return (req, _res, next) => {
    if (!SAFE_METHODS.has(req.method)) {
      const refused = check.check(req);
      if (refused) throw refused;
    }
    next();
  };
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined || !URL.canParse(origin) || !URL.canParse(`http://${host}`)) return false;
  const originUrl = new URL(origin);
  // Default ports drop out on both sides (an https origin's :443, a Host header's :80).
  return (originUrl.protocol === "http:" || originUrl.protocol === "https:") && originUrl.host === new URL(`http://${host}`).host;
}
