import { Router } from "express";
import { z } from "zod";
import { parseOr400 } from "../../core/src/http/problem";
import { JOB_STATUSES } from "../../core/src/jobs/job";
import type { FinishedBucket, JobStore } from "../../core/src/store/job-store";
import { FinishedMinutes, MINUTE_MS } from "./finished-minutes";
import { queryInt } from "./jobs.schemas";

/** Dashboards refresh every few seconds, several at once: one computation serves them all for this long. */
const CACHE_MS = 1_000;

export const statsQuery = z.strictObject({
  minutes: queryInt(1, 60, 15).meta({ description: "Window, 1 to 60 minutes." }),
});

const ms = z.number().nullable();
const finishedFields = {
  done: z.int(),
  failed: z.int(),
  cancelled: z.int(),
  avg_run_ms: ms.meta({ description: "Mean finished_at − started_at (last attempt)." }),
  max_run_ms: ms,
  avg_queue_ms: ms.meta({ description: "Mean started_at − run_at: from ready to claimed." }),
  max_queue_ms: ms,
};
export const statsSchema = z
  .object({
    generated_at: z.string(),
    window_minutes: z.int(),
    counts: z.record(z.enum(JOB_STATUSES), z.int()).meta({ description: "Jobs in the store by status." }),
    finished: z.object({ total: z.int(), per_minute: z.number(), ...finishedFields }).meta({ description: "Jobs that finished in the window." }),
    minutes: z.array(z.object({ start: z.string(), ...finishedFields })).meta({ description: "One entry per minute, oldest first; the last is the current, partial minute." }),
  })
  .meta({ id: "Stats" });
type Stats = z.output<typeof statsSchema>;
type MinuteStats = Stats["minutes"][number];

/**
 * GET /stats: counts by status, and per minute over the last `minutes` (1–60, default 15) the
 * jobs that finished, with their average and worst run and queue times. Read from the jobs
 * table, so it covers every worker process; the current minute is the last, partial one.
 */
export function statsRoutes(store: JobStore): Router {
  const router = Router();
  const cache = new Map<number, { at: number; stats: Promise<Stats> }>();
  const finished = new FinishedMinutes(store);
  router.get("/stats", async (req, res) => {
    const { minutes } = parseOr400(statsQuery, req.query, ["query"]);
    const now = Date.now();
    let hit = cache.get(minutes);
    if (!hit || now - hit.at > CACHE_MS) {
      hit = { at: now, stats: computeStats(store, finished, minutes, now) };
      cache.set(minutes, hit);
      hit.stats.catch(() => cache.delete(minutes));
    }
    res.set("Cache-Control", "no-store").json(await hit.stats);
  });
  return router;
}

async function computeStats(store: JobStore, finished: FinishedMinutes, minutes: number, now: number): Promise<Stats> {
  const since = Math.floor(now / MINUTE_MS) * MINUTE_MS - (minutes - 1) * MINUTE_MS;
  const [counts, byMinute] = await Promise.all([store.countByStatus(), finished.since(since, now)]);
  const perMinute = [...byMinute].map(([minute, rows]) => summarise(new Date(minute).toISOString(), rows));
  const { start: _start, ...all } = summarise("", [...byMinute.values()].flat());
  const total = all.done + all.failed + all.cancelled;
  const elapsedMinutes = Math.max(1, (now - since) / MINUTE_MS);
  return {
    generated_at: new Date(now).toISOString(),
    window_minutes: minutes,
    counts,
    finished: { total, per_minute: round(total / elapsedMinutes), ...all },
    minutes: perMinute,
  };
}

/** Merges status rows into one summary; averages are weighted by how many jobs each row holds. */
function summarise(start: string, rows: FinishedBucket[]): MinuteStats {
  const count = (status: string) => rows.filter((r) => r.status === status).reduce((n, r) => n + r.count, 0);
  const weighted = (pick: (r: FinishedBucket) => number | null) => {
    let sum = 0;
    let n = 0;
    for (const r of rows) {
      const v = pick(r);
      if (v !== null) {
        sum += v * r.count;
        n += r.count;
      }
    }
    return n === 0 ? null : round(sum / n);
  };
  const worst = (pick: (r: FinishedBucket) => number | null) => {
    const values = rows.map(pick).filter((v): v is number => v !== null);
    return values.length === 0 ? null : round(Math.max(...values));
  };
  return {
    start,
    done: count("DONE"),
    failed: count("FAILED"),
    cancelled: count("CANCELLED"),
    avg_run_ms: weighted((r) => r.avgRunMs),
    max_run_ms: worst((r) => r.maxRunMs),
    avg_queue_ms: weighted((r) => r.avgQueueMs),
    max_queue_ms: worst((r) => r.maxQueueMs),
  };
}

const round = (v: number) => Math.round(v * 100) / 100;
