import type { Request } from "express";
import type { Config } from "../../core/src/config";
import { HttpProblem } from "../../core/src/http/problem";

/** A ceiling on how many of something each client holds at once: places are taken and given back. */
export class PerClientLimit {
  private readonly held = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes a place for `client`: the function that gives it back (calling it again does nothing), or null when the client holds `max`. */
  take(client: string): (() => void) | null {
    const holding = this.held.get(client) ?? 0;
    if (holding >= this.max) return null;
    this.held.set(client, holding + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(client) ?? 1) - 1;
      if (left === 0) this.held.delete(client);
      else this.held.set(client, left);
    };
  }
}

/**
 * What one client may hold of the live updates: open connections (WebSocket and SSE together)
 * and subscriptions to everything, the ones whose fan-out grows with every job. A client is its
 * API key, or its address when keys are off (behind a proxy, the address X-Forwarded-For gives
 * once TRUST_PROXY_HOPS trusts the proxy; otherwise the proxy's own).
 */
export interface RealtimeLimits {
  connections: PerClientLimit;
  allSubscriptions: PerClientLimit;
}

export function realtimeLimits(config: Config): RealtimeLimits {
  return {
    connections: new PerClientLimit(config.REALTIME_MAX_CONNECTIONS_PER_CLIENT),
    allSubscriptions: new PerClientLimit(config.REALTIME_MAX_ALL_SUBSCRIPTIONS_PER_CLIENT),
  };
}

/** The client a request counts against: its key (after the key check), else its address. */
export function clientOf(req: Request): string {
  return req.apiKeyId !== undefined ? `key:${req.apiKeyId}` : `address:${req.ip ?? "unknown"}`;
}

export const tooManyConnections = (max: number) =>
  new HttpProblem(
    429,
    "too-many-connections",
    "Too many live connections",
    `At most ${max} WebSocket and event-stream connections may be open per API key (per address when keys are off); close one first.`,
    undefined,
    { "Retry-After": "5" },
  );

export const tooManyAllSubscriptions = (max: number) =>
  new HttpProblem(
    429,
    "too-many-subscriptions",
    "Too many subscriptions to everything",
    `At most ${max} connections per API key (per address when keys are off) may subscribe to all jobs at once; subscribe by type or id, or unsubscribe elsewhere first.`,
  );
