import { createHash, timingSafeEqual } from "node:crypto";
import { parse as parseCookies } from "cookie";
import type { Request, RequestHandler } from "express";
import type { Config } from "../../core/src/config";
import { HttpProblem } from "../../core/src/http/problem";
import { BrowserSessions, SESSION_COOKIE } from "./browser-session";

declare module "express-serve-static-core" {
  interface Request {
    /** The id of the API key the request was authenticated with (keys on only). */
    apiKeyId?: string;
  }
}

/**
 * The configured API keys. Keys are compared as SHA-256 digests with timingSafeEqual: equal
 * lengths always, every key compared, and no early exit that would leak how much of a key
 * matched. Each key has an id (the start of its digest) that names it in session cookies and
 * per-client limits without revealing it.
 */
export class ApiKeys {
  private readonly known: { digest: Buffer; id: string }[];

  constructor(keys: readonly string[]) {
    this.known = keys.map((key) => {
      const d = digest(key);
      return { digest: d, id: d.subarray(0, 9).toString("base64url") };
    });
  }

  /** The id of the configured key `presented` is, or null. */
  identify(presented: string): string | null {
    const candidate = digest(presented);
    let id: string | null = null;
    for (const key of this.known) if (timingSafeEqual(key.digest, candidate)) id = key.id;
    return id;
  }

  has(id: string): boolean {
    return this.known.some((key) => key.id === id);
  }
}

const digest = (key: string) => createHash("sha256").update(key).digest();

/**
 * Who a request comes from, when API keys are on. In order: `Authorization: Bearer <key>`; the
 * session cookie a browser got for its key (browser-session.ts); and, only where a browser
 * cannot send a header (the WebSocket, the event stream), `?api_key=`. A key in any other URL
 * does not count: URLs end up in histories, proxy logs and Referer headers.
 */
export class Authenticator {
  constructor(
    readonly keys: ApiKeys,
    readonly sessions: BrowserSessions,
  ) {}

  /** The id of the request's key, or the 401 problem to answer with. */
  authenticate(req: Request, keyInUrl: boolean): string | HttpProblem {
    const header = req.get("authorization");
    if (header !== undefined) {
      const bearer = /^Bearer ([^\s]+)$/i.exec(header)?.[1];
      return (bearer && this.keys.identify(bearer)) || unauthorized("The API key is not valid.");
    }
    const cookie = req.get("cookie");
    const session = cookie === undefined ? undefined : parseCookies(cookie)[SESSION_COOKIE];
    const keyId = session === undefined ? null : this.sessions.verify(session);
    if (keyId !== null && this.keys.has(keyId)) return keyId;
    const inUrl = keyInUrl ? req.query.api_key : undefined;
    if (typeof inUrl === "string") return this.keys.identify(inUrl) ?? unauthorized("The API key is not valid.");
    if (session !== undefined) return unauthorized("The session has expired or is not valid: open /dashboard?api_key=<key> again.");
    return unauthorized(
      keyInUrl
        ? "Send Authorization: Bearer <key> (browsers: add ?api_key=<key> to this URL)."
        : "Send Authorization: Bearer <key> (browsers: open /dashboard?api_key=<key> or /docs?api_key=<key> once).",
    );
  }
}

/** An Authenticator for the configured keys, or null when keys are off. */
export function authenticatorFor(config: Config): Authenticator | null {
  if (!config.API_KEYS) return null;
  return new Authenticator(new ApiKeys(config.API_KEYS), new BrowserSessions(config.SESSION_SECRET, config.SESSION_TTL_MS));
}

/** Refuses requests without a valid key (401). `keyInUrl` says where `?api_key=` counts. */
export function requireApiKey(auth: Authenticator, keyInUrl: (req: Request) => boolean = () => false): RequestHandler {
  return (req, _res, next) => {
    const result = auth.authenticate(req, keyInUrl(req));
    if (result instanceof HttpProblem) throw result;
    req.apiKeyId = result;
    next();
  };
}

/** Pages that take `?api_key=` once, and where each sends the browser back to without it. */
const SESSION_PAGES: Record<string, string> = { "/dashboard": "/dashboard", "/docs": "/docs/", "/docs/": "/docs/" };

/**
 * GET /dashboard?api_key=… (and /docs?api_key=…): a valid key is exchanged for a session cookie
 * that scripts cannot read (HttpOnly) and that is not sent with requests from other sites
 * (SameSite=Strict), and the browser is sent to the page's URL without the key (303), so the key
 * leaves the address bar and the history. A wrong key is a 401 and no cookie. Requests without
 * `api_key` go on to the key check, where the cookie counts.
 */
export function exchangeKeyForSession(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    const page = SESSION_PAGES[req.path];
    if (req.method !== "GET" || page === undefined || req.query.api_key === undefined) return next();
    const presented = req.query.api_key;
    const keyId = typeof presented === "string" ? auth.keys.identify(presented) : null;
    if (keyId === null) throw unauthorized("The API key is not valid.");
    res
      .cookie(SESSION_COOKIE, auth.sessions.issue(keyId), {
        httpOnly: true,
        sameSite: "strict",
        // Over TLS (as a trusted proxy reports it) the browser must never send it in clear.
        secure: req.secure,
        path: "/",
        maxAge: auth.sessions.ttlMs,
      })
      .redirect(303, page);
  };
}

const unauthorized = (detail: string) =>
  new HttpProblem(401, "unauthorized", "Unauthorized", detail, undefined, { "WWW-Authenticate": 'Bearer realm="taskq"' });
