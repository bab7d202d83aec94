import { type Request, Router } from "express";
import { z } from "zod";
import { notFound, parseOr400 } from "../../core/src/http/problem";
import type { Metrics } from "../../core/src/metrics/metrics";
import type { JobStore } from "../../core/src/store/job-store";
import { clientOf, type RealtimeLimits, tooManyConnections } from "./client-limits";
import type { JobFeed, JobUpdate } from "./job-feed";
import { jobIdParams } from "./jobs.schemas";
import { SseStream } from "./sse-stream";

export interface JobEventRoutesDeps {
  store: JobStore;
  feed: JobFeed;
  heartbeatMs: number;
  metrics: Metrics;
  limits: RealtimeLimits;
}

/** One event of the stream, as its fields are written (documented in the OpenAPI document; the tests check each event against it). */
export const jobUpdatedEventSchema = z
  .object({
    event: z.literal("job.updated"),
    id: z.string().meta({ description: "The job's version: send it back as Last-Event-ID (or ?last_event_id=) when resuming." }),
    data: z.string().meta({ description: "The job resource, as JSON on one `data:` line.", contentMediaType: "application/json", contentSchema: { $ref: "#/components/schemas/Job" } }),
  })
  .meta({
    id: "JobUpdatedEvent",
    description:
      "A Server-Sent Event (`event:`, `id:` and `data:` lines, then a blank line). The stream opens with `retry: 2000` and carries `: keep-alive` comment lines every REALTIME_HEARTBEAT_MS.",
  });

const EVENTS_PATH = /^\/jobs\/[^/]+\/events$/;

/** Browsers' EventSource cannot send headers: this route takes `?api_key=` (auth.ts). */
export const isEventStreamRequest = (req: Request) => req.method === "GET" && EVENTS_PATH.test(req.path);

/**
 * GET /jobs/{id}/events: the job's states as Server-Sent Events (`event: job.updated`, data =
 * the job resource, id = its version), ending after the terminal one. Last-Event-ID (or
 * ?last_event_id=) names the version a client already has: that state is not sent again, and
 * a finished job the client has fully seen answers 204, which tells EventSource to stop
 * reconnecting.
 */
export function jobEventRoutes({ store, feed, heartbeatMs, metrics, limits }: JobEventRoutesDeps): Router {
  const router = Router();
  router.get("/jobs/:id/events", async (req, res) => {
    const { id } = parseOr400(jobIdParams, req.params);
    const row = await store.get(id);
    if (!row) throw notFound(`No job ${id}`);
    const lastQuery = req.query.last_event_id;
    let lastSent = req.get("last-event-id") ?? (typeof lastQuery === "string" ? lastQuery : null);
    const current = feed.toUpdate(row);
    if (current.finished && current.version === lastSent) {
      res.status(204).end();
      return;
    }

    const release = limits.connections.take(clientOf(req));
    if (!release) throw tooManyConnections(limits.connections.max);
    const stream = new SseStream(res, heartbeatMs);
    const deliver = (updates: readonly JobUpdate[]) => {
      for (const update of updates) {
        if (update.version !== lastSent) {
          lastSent = update.version;
          stream.send({ id: update.version, event: "job.updated", data: update.resourceJson });
        }
        if (update.finished) {
          sub.close();
          stream.end();
        }
      }
    };
    const sub = feed.subscribe(deliver, () => stream.end());
    metrics.realtimeConnections.inc({ transport: "sse" });
    res.on("close", () => {
      release();
      sub.close();
      metrics.realtimeConnections.dec({ transport: "sse" });
    });
    sub.add({ jobIds: [id] });
    // Read again through the feed, after subscribing, so no update can fall between the two.
    sub.snapshot([id]);
  });
  return router;
}
