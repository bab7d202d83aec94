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

/**
 * Keep-alive POSTs of one JSON body from `connections` connections (autocannon). The rate is
 * timed from the start to the last response: with `amount`, autocannon's own duration runs
 * on to its next one-second sample tick (2,000 requests answered in 1.12 s were reported as
 * taking 2.02 s), which understated the bulk stage by up to a second in five to nine.
 */
export async function postLoad(o: LoadOptions): Promise<LoadResult> {
  let startedAt = performance.now();
  let lastResponseAt = startedAt;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon(
      {
        url: o.url,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(o.body),
        connections: o.connections,
        ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.durationS ?? 10 }),
        timeout: 30,
      },
      (error, finished) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(finished)),
    );
    run.on("start", () => (startedAt = performance.now()));
    run.on("response", () => (lastResponseAt = performance.now()));
  });
  const ok = result["2xx"];
  const durationS = Math.max(lastResponseAt - startedAt, 1) / 1_000;
  return {
    okPerSecond: ok / durationS,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    durationS: Math.round(durationS * 1_000) / 1_000,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}
