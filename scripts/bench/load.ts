import autocannon from "autocannon";

/** The body of every noop submission: 89 bytes, the size of the reference body. */
export const NOOP_JOB = { type: "noop", payload: { email: "user@example.com", subject: "Welcome to the platform!" } };

export interface LoadResult {
  /** Responses with a 2xx status per second over the run. */
  okPerSecond: number;
  ok: number;
  non2xx: number;
  errors: number;
  durationS: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface LoadOptions {
  url: string;
  body: unknown;
  connections: number;
  /** Stop after this many requests … */
  amount?: number;
  /** … or after this many seconds. */
  durationS?: number;
}

/** Keep-alive POSTs of one JSON body from `connections` connections (autocannon). */
export async function postLoad(o: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: o.url,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(o.body),
    connections: o.connections,
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.durationS ?? 10 }),
    timeout: 30,
  });
  const ok = result["2xx"];
  return {
    okPerSecond: ok / (result.duration || 1),
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    durationS: result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}
