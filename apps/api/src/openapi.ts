import { createDocument } from "zod-openapi";
import { z } from "zod";
import { statsQuery, statsSchema } from "./stats.routes";
import { jobIdParams, jobListSchema, jobSchema, jobTypeSchema, listJobsQuery, problemSchema, submitBatchSchema, submitJobSchema } from "./jobs.schemas";

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });
const problem = (description: string) => ({ description, content: { "application/problem+json": { schema: problemSchema } } });
const idPath = { path: jobIdParams };

/** The OpenAPI 3.1 document, generated from the zod schemas that validate the requests. */
export function openApiDocument(options: { apiKeys: boolean }) {
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "taskq",
      version: "0.1.0",
      description:
        "A durable job queue. Submit a job, get its id at once, follow it to DONE, FAILED or CANCELLED. Delivery is at-least-once: handlers should make their side effects idempotent.",
    },
    ...(options.apiKeys && {
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    }),
    paths: {
      "/jobs": {
        post: {
          summary: "Submit a job",
          requestParams: { header: z.object({ "idempotency-key": z.string().optional().meta({ description: "Repeat-safe submission: the same key and body return the first job." }) }) },
          requestBody: { content: { "application/json": { schema: submitJobSchema } } },
          responses: {
            "202": json(jobSchema, "Stored (committed) and queued. Location: /jobs/{id}."),
            "400": problem("Invalid body, type or payload; `errors` names each field."),
            "413": problem("Body too large."),
            "415": problem("Not application/json."),
            "422": problem("Idempotency-Key reused with a different body."),
            "503": problem("The job could not be stored; nothing was queued. Retry later."),
          },
        },
        get: {
          summary: "List jobs, newest first",
          requestParams: { query: listJobsQuery },
          responses: { "200": json(jobListSchema, "A page of jobs."), "400": problem("Bad query parameter.") },
        },
      },
      "/jobs/batch": {
        post: {
          summary: "Submit up to 1,000 jobs in one transaction (all or nothing)",
          requestBody: { content: { "application/json": { schema: submitBatchSchema } } },
          responses: {
            "202": json(z.object({ jobs: z.array(jobSchema) }), "All stored, in request order."),
            "400": problem("Some job is invalid (field names like jobs.3.payload.email); nothing was stored."),
          },
        },
      },
      "/jobs/{id}": {
        get: { summary: "Get a job", requestParams: idPath, responses: { "200": json(jobSchema, "The job."), "400": problem("Not a UUID."), "404": problem("No such job.") } },
        delete: { summary: "Delete a finished job", requestParams: idPath, responses: { "204": { description: "Deleted." }, "404": problem("No such job."), "409": problem("Not finished.") } },
      },
      "/jobs/{id}/cancel": {
        post: {
          summary: "Cancel a job",
          requestParams: idPath,
          responses: {
            "200": json(jobSchema, "Was PENDING: now CANCELLED."),
            "202": json(jobSchema, "Is RUNNING: its handler is being aborted; it ends CANCELLED."),
            "404": problem("No such job."),
            "409": problem("Already finished."),
          },
        },
      },
      "/jobs/{id}/retry": {
        post: { summary: "Run a FAILED or CANCELLED job again", requestParams: idPath, responses: { "202": json(jobSchema, "PENDING again."), "409": problem("Not FAILED or CANCELLED.") } },
      },
      "/jobs/{id}/events": {
        get: {
          summary: "Follow a job: Server-Sent Events until it finishes",
          description:
            "Each event is `event: job.updated`, `id:` the job's version, `data:` the job. The current state comes first; the stream ends after the terminal state. Send Last-Event-ID (or ?last_event_id=) to skip a state already seen; a finished job whose last state was seen answers 204. Comment lines (`: keep-alive`) every REALTIME_HEARTBEAT_MS. With API keys on, browsers pass ?api_key=.",
          requestParams: { path: jobIdParams, header: z.object({ "last-event-id": z.string().optional() }) },
          responses: {
            "200": { description: "text/event-stream of job.updated events.", content: { "text/event-stream": { schema: z.string() } } },
            "204": { description: "Finished, and the client already has its last state." },
            "400": problem("Not a UUID."),
            "404": problem("No such job."),
          },
        },
      },
      "/stats": {
        get: { summary: "Counts by status; throughput and latency per minute", requestParams: { query: statsQuery }, responses: { "200": json(statsSchema, "Statistics (cached for 1 s)."), "400": problem("Bad minutes.") } },
      },
      "/metrics": { get: { summary: "Prometheus metrics", responses: { "200": { description: "Prometheus text exposition format.", content: { "text/plain": { schema: z.string() } } } } } },
      "/job-types": { get: { summary: "Registered job types and their payload JSON Schemas", responses: { "200": json(z.object({ items: z.array(jobTypeSchema) }), "Types.") } } },
      "/healthz": { get: { summary: "Liveness", security: [], responses: { "200": { description: "The process answers." } } } },
      "/readyz": { get: { summary: "Readiness", security: [], responses: { "200": { description: "Ready." }, "503": { description: "Not ready." } } } },
    },
  });
}
