import express, { type Request, type Response, Router } from "express";
import { z } from "zod";
import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import { describeHandlers, type HandlerRegistry } from "../../core/src/handlers/registry";
import { HttpProblem, notFound, parseOr400 } from "../../core/src/http/problem";
import { isFinished, type JobRow, toJobResource } from "../../core/src/jobs/job";
import type { JobStore } from "../../core/src/store/job-store";
import { JobSubmitter } from "./job-submitter";
import { idempotencyKeySchema, jobIdParams, listJobsQuery, submitBatchSchema } from "./jobs.schemas";

export interface JobRoutesDeps {
  store: JobStore;
  submitter: JobSubmitter;
  registry: HandlerRegistry;
  config: Config;
  events: JobEvents;
}

/** Routes stay thin: validate, call the submitter or the store, shape the answer. */
export function jobRoutes({ store, submitter, registry, config, events }: JobRoutesDeps): Router {
  const router = Router();
  const view = (row: JobRow) => toJobResource(row, { exposeStack: config.EXPOSE_ERROR_STACK });
  // Only the submissions take a body: no other route parses one, so none can answer 413 or 400 for it.
  const jsonBody = express.json({ limit: config.BODY_LIMIT_BYTES, strict: true, type: "application/json" });

  router.post("/jobs", requireJson, jsonBody, async (req, res) => {
    const key = idempotencyKeyOf(req);
    const prepared = submitter.prepare(req.body);
    JobSubmitter.withIdempotency([prepared], key, req.body, false);
    const { job, replayed } = await submitter.submit(prepared);
    if (replayed) res.set("Idempotent-Replayed", "true");
    answerPost(res.location(`/jobs/${job.id}`), 202, view(job));
  });

  router.post("/jobs/batch", requireJson, jsonBody, async (req, res) => {
    const { jobs } = parseOr400(submitBatchSchema, req.body);
    const key = idempotencyKeyOf(req);
    const prepared = jobs.map((body, index) => submitter.prepare(body, ["jobs", index]));
    JobSubmitter.withIdempotency(prepared, key, req.body, true);
    const { jobs: rows, replayed } = await submitter.submitBatch(prepared);
    if (replayed) res.set("Idempotent-Replayed", "true");
    answerPost(res, 202, { jobs: rows.map(view) });
  });

  // Any other method on /jobs/batch is not a job id: leave this router, so that it is answered 405.
  router.all("/jobs/batch", (_req, _res, next) => next("router"));

  router.get("/jobs", async (req, res) => {
    const q = parseOr400(listJobsQuery, req.query, ["query"]);
    const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    const rows = await store.list({ status: q.status, type: q.type, limit: q.limit + 1, cursor });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    res.json({ items: page.map(view), next_cursor: rows.length > q.limit && last ? encodeCursor(last) : null });
  });

  router.get("/jobs/:id", async (req, res) => {
    res.json(view(await findJob(store, req)));
  });

  router.post("/jobs/:id/cancel", async (req, res) => {
    const { id } = parseOr400(jobIdParams, req.params);
    const cancelled = await store.cancel(id);
    if (cancelled.outcome === "missing") throw notFound(`No job ${id}`);
    if (cancelled.outcome === "finished") {
      throw new HttpProblem(409, "job-finished", "Job already finished", `Job ${id} is ${cancelled.job.status}; only PENDING or RUNNING jobs can be cancelled.`);
    }
    events.emit("job:updated", id);
    if (cancelled.outcome === "requested") {
      // The owner aborts the handler and records CANCELLED; answer at once with the request noted.
      events.emit("job:cancel-requested", id);
      answerPost(res, 202, view(cancelled.job));
      return;
    }
    answerPost(res, 200, view(cancelled.job));
  });

  // A retry by hand: the job is requeued with a fresh set of attempts (the scheduled retries after a failed attempt are the worker's).
  router.post("/jobs/:id/retry", async (req, res) => {
    const job = await findJob(store, req);
    const requeued = await store.requeue(job.id);
    if (!requeued) {
      throw new HttpProblem(409, "job-not-retryable", "Job cannot be retried", `Job ${job.id} is ${job.status}; only FAILED or CANCELLED jobs can be retried.`);
    }
    events.emit("jobs:available", requeued.runAt, [requeued.type]);
    events.emit("job:updated", job.id);
    answerPost(res, 202, view(requeued));
  });

  router.delete("/jobs/:id", async (req, res) => {
    const job = await findJob(store, req);
    if (!isFinished(job.status) || !(await store.delete(job.id))) {
      throw new HttpProblem(409, "job-not-finished", "Job not finished", `Job ${job.id} is ${job.status}; only finished jobs can be deleted.`);
    }
    res.status(204).end();
  });

  router.get("/job-types", (_req, res) => {
    res.json({ items: describeHandlers(registry) });
  });

  return router;
}

async function findJob(store: JobStore, req: Request): Promise<JobRow> {
  const { id } = parseOr400(jobIdParams, req.params);
  const job = await store.get(id);
  if (!job) throw notFound(`No job ${id}`);
  return job;
}

/**
 * A JSON answer to a POST, without the ETag Express derives from every body it sends (a SHA-1
 * of it): no client revalidates the answer to a POST. Hashing was 4% of the main thread's
 * instructions per submission (callgrind), and a batch's answer is ~500 kB. GETs keep theirs.
 */
function answerPost(res: Response, status: number, body: unknown): void {
  res.status(status).type("json").end(JSON.stringify(body));
}

/** Bodies must be declared JSON: anything else is 415, before any parsing. */
function requireJson(req: Request, _res: unknown, next: () => void): void {
  if (!req.is("application/json")) {
    throw new HttpProblem(415, "unsupported-media-type", "Unsupported media type", "Send the body as application/json.");
  }
  next();
}

function idempotencyKeyOf(req: Request): string | null {
  const key = req.get("idempotency-key");
  if (key === undefined) return null;
  if (!idempotencyKeySchema.safeParse(key).success) {
    throw new HttpProblem(400, "validation-error", "Invalid request", "Idempotency-Key must be 1 to 255 visible ASCII characters.", [
      { field: "header.Idempotency-Key", message: "1 to 255 visible ASCII characters" },
    ]);
  }
  return key;
}

const cursorSchema = z.tuple([z.number().finite(), z.uuid()]);

function encodeCursor(row: JobRow): string {
  return Buffer.from(JSON.stringify([row.createdAt, row.id])).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    decoded = undefined;
  }
  const parsed = cursorSchema.safeParse(decoded);
  if (!parsed.success) {
    throw new HttpProblem(400, "validation-error", "Invalid request", "cursor is not a next_cursor this API returned", [
      { field: "query.cursor", message: "not a cursor returned by this API" },
    ]);
  }
  return { createdAt: parsed.data[0], id: parsed.data[1] };
}
