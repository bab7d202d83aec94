import type { RequestHandler } from "express";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ClaimEvent, JobClaimedEvent, JobEvents, JobSettledEvent, JobSubmittedEvent } from "../events";
import { JOB_STATUSES, type JobStatus } from "../jobs/job";
import type { Logger } from "../logger";

/** One pool's slots as the dispatcher counts them, and Piscina's own utilisation ratio. */
export interface PoolStats {
  capacity: number;
  busy: number;
  utilization: number;
}

export interface MetricsSources {
  events: JobEvents;
  /** Queue depth, read on each scrape (one grouped count), never per event. */
  countByStatus: () => Promise<Record<JobStatus, number>>;
  /** Present in processes that run jobs. */
  pools?: () => Record<string, PoolStats>;
  /** Store operations the database did not carry out since start, by operation (StorageHealth). */
  storageFailures: () => ReadonlyMap<string, number>;
  logger: Logger;
}

/**
 * The longest a scrape waits for the queue depth (one grouped count): a database that hangs
 * must not take the process's other metrics down with it (Prometheus gives up after 10 s).
 */
const DEPTH_QUERY_MAX_MS = 1_000;
/** Seconds: from a few ms (noop) to an hour (long hash jobs, scheduled backlogs). */
const JOB_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const HTTP_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Jobs per claim: a claim takes at most half a pool's slots, and pools are sized in powers of two by default. */
const CLAIM_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * The process's Prometheus registry. Lifecycle counters and histograms follow the typed events
 * on the bus (the dispatcher and the submitter emit them; nothing here reaches into either);
 * gauges that need a query or a pool are computed when /metrics is scraped. Each service has
 * its own registry, so several services in one process (tests) do not mix their numbers.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly realtimeConnections: Gauge<"transport">;
  readonly realtimeDropped: Counter<"transport">;
  private readonly detach: () => void;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    const submitted = new Counter({ name: "taskq_jobs_submitted_total", help: "Jobs stored by this process's API.", labelNames: ["type"], registers });
    const finished = new Counter({
      name: "taskq_jobs_finished_total",
      help: "Jobs that reached DONE, FAILED or CANCELLED in this process's dispatcher (a PENDING job cancelled through the API never ran and is not counted).",
      labelNames: ["type", "status"],
      registers,
    });
    const retries = new Counter({ name: "taskq_job_retries_total", help: "Failed attempts that were scheduled to run again.", labelNames: ["type"], registers });
    const timeouts = new Counter({ name: "taskq_job_timeouts_total", help: "Attempts stopped because they exceeded their timeout.", labelNames: ["type"], registers });
    const reclaimed = new Counter({ name: "taskq_lease_recoveries_total", help: "RUNNING jobs taken back after their worker stopped heartbeating (or restarted).", registers });
    const claims = new Counter({
      name: "taskq_claims_total",
      help: "Claims this process's worker made, per pool: those that took jobs, those that found none ready, and those the database refused.",
      labelNames: ["pool", "result"],
      registers,
    });
    const claimSize = new Histogram({
      name: "taskq_claim_size",
      help: "Jobs taken by each claim that took any, per pool (at most half the pool's slots).",
      labelNames: ["pool"],
      buckets: CLAIM_SIZE_BUCKETS,
      registers,
    });
    const queueSeconds = new Histogram({
      name: "taskq_job_queue_seconds",
      help: "Time from ready (run_at) to claimed, per attempt.",
      labelNames: ["type"],
      buckets: JOB_SECONDS_BUCKETS,
      registers,
    });
    const runSeconds = new Histogram({
      name: "taskq_job_run_seconds",
      help: "Time from claimed to outcome recorded, per attempt.",
      labelNames: ["type", "status"],
      buckets: JOB_SECONDS_BUCKETS,
      registers,
    });
    new Counter({
      name: "taskq_storage_failures_total",
      help: "Store operations the database did not carry out (unreachable, refused, disk full…), by operation.",
      labelNames: ["operation"],
      registers,
      collect() {
        this.reset();
        for (const [operation, count] of sources.storageFailures()) this.inc({ operation }, count);
      },
    });
    const depth = new Gauge({
      name: "taskq_jobs",
      help: "Jobs in the store by status (the whole queue: every process reports the same value).",
      labelNames: ["status"],
      registers,
      collect: async () => {
        try {
          const counts = await within(sources.countByStatus(), DEPTH_QUERY_MAX_MS);
          for (const status of JOB_STATUSES) depth.set({ status }, counts[status]);
        } catch (error) {
          // A scrape still answers with the process metrics; the depth gauge keeps its last value.
          sources.logger.warn("metrics: counting jobs by status failed", { error });
        }
      },
    });
    if (sources.pools) {
      const pools = sources.pools;
      const poolGauge = (name: string, help: string, value: (s: PoolStats) => number) =>
        new Gauge({
          name,
          help,
          labelNames: ["pool"],
          registers,
          collect() {
            for (const [pool, s] of Object.entries(pools())) this.set({ pool }, value(s));
          },
        });
      poolGauge("taskq_pool_slots", "Jobs the pool can run at once.", (s) => s.capacity);
      poolGauge("taskq_pool_busy_slots", "Jobs running in the pool now.", (s) => s.busy);
      poolGauge("taskq_pool_utilization_ratio", "Busy slots / slots, per pool (0..1).", (s) => (s.capacity > 0 ? s.busy / s.capacity : 0));
      poolGauge("taskq_pool_thread_utilization_ratio", "Piscina's utilisation: mean task run time over the pool's run-time capacity since start (0..1).", (s) => s.utilization);
    }
    this.httpDuration = new Histogram({
      name: "taskq_http_request_duration_seconds",
      help: "HTTP requests by route pattern and status (SSE streams count their whole life).",
      labelNames: ["method", "route", "status"],
      buckets: HTTP_SECONDS_BUCKETS,
      registers,
    });
    this.realtimeConnections = new Gauge({ name: "taskq_realtime_connections", help: "Open SSE streams and WebSocket connections.", labelNames: ["transport"], registers });
    this.realtimeDropped = new Counter({
      name: "taskq_realtime_slow_clients_closed_total",
      help: "Live connections closed because the client did not read its updates.",
      labelNames: ["transport"],
      registers,
    });

    const onSubmitted = (jobs: readonly JobSubmittedEvent[]) => {
      for (const job of jobs) submitted.inc({ type: job.type });
    };
    const onClaim = (e: ClaimEvent) => {
      if (e.claimed === null) claims.inc({ pool: e.pool, result: "failed" });
      else if (e.claimed === 0) claims.inc({ pool: e.pool, result: "empty" });
      else {
        claims.inc({ pool: e.pool, result: "jobs" });
        claimSize.observe({ pool: e.pool }, e.claimed);
      }
    };
    const onClaimed = (e: JobClaimedEvent) => queueSeconds.observe({ type: e.type }, Math.max(0, e.queueMs) / 1000);
    const onSettled = (e: JobSettledEvent) => {
      runSeconds.observe({ type: e.type, status: e.status }, e.runMs / 1000);
      if (e.errorName === "TimeoutError") timeouts.inc({ type: e.type });
      // A job given back (PENDING, attempt not charged) neither finished nor retried.
      if (e.end === "retry") retries.inc({ type: e.type });
      else if (e.end !== "given-back") finished.inc({ type: e.type, status: e.status });
    };
    const onReclaimed = (count: number) => reclaimed.inc(count);
    const { events } = sources;
    events.on("jobs:submitted", onSubmitted);
    events.on("claim", onClaim);
    events.on("job:claimed", onClaimed);
    events.on("job:settled", onSettled);
    events.on("jobs:reclaimed", onReclaimed);
    this.detach = () => {
      events.off("jobs:submitted", onSubmitted);
      events.off("claim", onClaim);
      events.off("job:claimed", onClaimed);
      events.off("job:settled", onSettled);
      events.off("jobs:reclaimed", onReclaimed);
    };
  }

  /** Times every request, labelled by the route pattern (never the raw path: ids would explode the series). */
  httpMiddleware(): RequestHandler {
    return (req, res, next) => {
      const end = this.httpDuration.startTimer();
      res.on("close", () => {
        const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : req.baseUrl || "unmatched";
        end({ method: req.method, route, status: String(res.statusCode) });
      });
      next();
    };
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    this.detach();
  }
}

/** `promise`, or a rejection once `ms` have passed without it settling. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
