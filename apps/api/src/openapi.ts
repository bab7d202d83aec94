import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { createDocument, createSchema, type ZodOpenApiObject, type ZodOpenApiOperationObject, type ZodOpenApiResponseObject } from "zod-openapi";
import type { HandlerRegistry } from "../../core/src/handlers/registry";
import { projectRoot } from "../../core/src/paths";
import { jobUpdatedEventSchema } from "./job-events.routes";
import {
  idempotencyKeySchema,
  jobBatchSchema,
  jobIdParams,
  jobListSchema,
  jobSchema,
  jobTypeListSchema,
  listJobsQuery,
  problemSchema,
  submitJobBodySchemas,
} from "./jobs.schemas";
import { statsQuery, statsSchema } from "./stats.routes";
import { webSocketClientMessage, webSocketServerMessage, WS_PATH } from "./websocket";

export interface ApiDocumentOptions {
  /** The job types the service accepts: each gets its own request schema. */
  registry: HandlerRegistry;
  /** API_KEYS is set: every operation but the health checks needs a key and may answer 401. */
  apiKeys: boolean;
}

/**
 * The OpenAPI 3.1 document of the API, generated from the zod schemas that validate the
 * requests and from the registry of job types. It lists every status each operation answers
 * (the tests check every answer the suite provokes against it) and gives each operation an
 * operationId, which the generated client (apps/client) uses as its method names.
 *
 * A pure function of the registry and the key setting: when the set of job types changes, call
 * it again.
 */
export function openApiDocument({ registry, apiKeys }: ApiDocumentOptions): OpenApiDocument {
  const bodies = submitJobBodySchemas(registry.handlers);
  try {
    return withWebSocketMessages(createDocument(describe(bodies, apiKeys)));
  } finally {
    bodies.release();
  }
}

export type OpenApiDocument = ReturnType<typeof createDocument>;

function describe(bodies: ReturnType<typeof submitJobBodySchemas>, apiKeys: boolean): ZodOpenApiObject {
  const secured = (operation: Operation): ZodOpenApiOperationObject => finish(operation, apiKeys);
  return {
    openapi: "3.1.0",
    info: {
      title: "taskq",
      version: packageVersion(),
      license: { name: "MIT", identifier: "MIT" },
      description:
        "A durable job queue. Submit a job, get its id at once, follow it to DONE, FAILED or CANCELLED. Delivery is at-least-once: handlers should make their side effects idempotent.\n\n" +
        "Every error is an RFC 9457 problem (application/problem+json) whose `errors` names each invalid field. A known path asked with a method it does not serve answers 405 with `Allow`. " +
        "Answers that depend on the database answer 503 with `Retry-After` while it is unavailable; nothing was stored then.",
    },
    servers: [{ url: "/", description: "The service that serves this document." }],
    tags: [
      { name: "jobs", description: "Submit, read, cancel, retry and delete jobs." },
      { name: "live updates", description: "Follow jobs as they change: Server-Sent Events per job, or one WebSocket for many." },
      { name: "operations", description: "Job types, statistics, metrics, health and this document." },
    ],
    // Without API_KEYS, `[{}]`: no authentication, said explicitly.
    security: apiKeys ? [{ bearer: [] }, { browserSession: [] }] : [{}],
    components: {
      ...(apiKeys && {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "Authorization: Bearer <one of API_KEYS>." },
          browserSession: {
            type: "apiKey",
            in: "cookie",
            name: "taskq_session",
            description: "Set by opening /dashboard?api_key=<key> or /docs?api_key=<key> once in a browser (signed, expiring, HttpOnly, SameSite=Strict).",
          },
          apiKeyQuery: { type: "apiKey", in: "query", name: "api_key", description: "Only on GET /ws and GET /jobs/{id}/events: browsers cannot set headers on WebSocket or EventSource." },
        },
      }),
    },
    paths: {
      "/jobs": {
        post: secured({
          operationId: "submitJob",
          tags: ["jobs"],
          summary: "Submit a job",
          description: "Validates the job (its type's payload schema included), stores it durably, and answers 202 once it is committed.",
          requestParams: { header: z.object({ "idempotency-key": idempotencyKeySchema.optional() }) },
          requestBody: {
            required: true,
            content: { "application/json": { schema: bodies.submitJob, example: { type: "email_processing", payload: { email: "user@example.com", subject: "Welcome to the platform!" } } } },
          },
          responses: {
            "202": answer("Stored (committed) and queued.", jsonBody(jobSchema), { Location: headers.location, "Idempotent-Replayed": headers.replayed }),
          },
          problems: {
            400: "Invalid body, type, payload or Idempotency-Key; `errors` names each field. Malformed JSON too.",
            413: "The body is larger than BODY_LIMIT_BYTES.",
            415: "The body is not application/json (or not UTF-8, or in an unsupported encoding).",
            422: "The Idempotency-Key was used before with a different body.",
          },
          storage: true,
          crossOrigin: true,
        }),
        get: secured({
          operationId: "listJobs",
          tags: ["jobs"],
          summary: "List jobs, newest first",
          requestParams: { query: listJobsQuery },
          responses: { "200": answer("A page of jobs.", jsonBody(jobListSchema)) },
          problems: { 400: "A bad query parameter (an unknown one too), or a cursor this API did not write." },
          conditional: true,
          storage: true,
        }),
      },
      "/jobs/batch": {
        post: secured({
          operationId: "submitJobs",
          tags: ["jobs"],
          summary: "Submit up to 1,000 jobs in one transaction (all or none)",
          requestParams: { header: z.object({ "idempotency-key": idempotencyKeySchema.optional() }) },
          requestBody: { required: true, content: { "application/json": { schema: bodies.submitBatch } } },
          responses: { "202": answer("All stored, in request order.", jsonBody(jobBatchSchema), { "Idempotent-Replayed": headers.replayed }) },
          problems: {
            400: "Some job is invalid (fields are named like jobs.3.payload.email); nothing was stored.",
            413: "The body is larger than BODY_LIMIT_BYTES.",
            415: "The body is not application/json (or not UTF-8, or in an unsupported encoding).",
            422: "The Idempotency-Key was used before with a different body.",
          },
          storage: true,
          crossOrigin: true,
        }),
      },
      "/jobs/{id}": {
        get: secured({
          operationId: "getJob",
          tags: ["jobs"],
          summary: "Get a job",
          requestParams: { path: jobIdParams },
          responses: { "200": answer("The job.", jsonBody(jobSchema)) },
          problems: { 400: "The id is not a UUID.", 404: "No such job." },
          conditional: true,
          storage: true,
        }),
        delete: secured({
          operationId: "deleteJob",
          tags: ["jobs"],
          summary: "Delete a finished job",
          requestParams: { path: jobIdParams },
          responses: { "204": answer("Deleted.") },
          problems: { 400: "The id is not a UUID.", 404: "No such job.", 409: "The job is not finished." },
          storage: true,
          crossOrigin: true,
        }),
      },
      "/jobs/{id}/cancel": {
        post: secured({
          operationId: "cancelJob",
          tags: ["jobs"],
          summary: "Cancel a job",
          requestParams: { path: jobIdParams },
          responses: {
            "200": answer("It was PENDING: it is CANCELLED now.", jsonBody(jobSchema)),
            "202": answer("It is RUNNING: its handler is being aborted, and it ends CANCELLED (or DONE, if it finished first).", jsonBody(jobSchema)),
          },
          problems: { 400: "The id is not a UUID.", 404: "No such job.", 409: "The job already finished." },
          storage: true,
          crossOrigin: true,
        }),
      },
      "/jobs/{id}/retry": {
        post: secured({
          operationId: "retryJob",
          tags: ["jobs"],
          summary: "Run a FAILED or CANCELLED job again",
          requestParams: { path: jobIdParams },
          responses: { "202": answer("PENDING again, with its attempts reset.", jsonBody(jobSchema)) },
          problems: { 400: "The id is not a UUID.", 404: "No such job.", 409: "The job is not FAILED or CANCELLED." },
          storage: true,
          crossOrigin: true,
        }),
      },
      "/jobs/{id}/events": {
        get: secured({
          operationId: "followJob",
          tags: ["live updates"],
          summary: "Follow a job: Server-Sent Events until it finishes",
          description:
            "The job's current state comes first, then each change; the stream ends after the terminal state. Send the last event's id as Last-Event-ID (or ?last_event_id=) to resume without receiving that state again. Each event is a JobUpdatedEvent.",
          requestParams: {
            path: jobIdParams,
            header: z.object({ "last-event-id": z.string().optional().meta({ description: "The id of the last event received." }) }),
            query: z.object({ last_event_id: z.string().optional().meta({ description: "Last-Event-ID, for clients that cannot set headers." }) }),
          },
          responses: {
            "200": answer("A text/event-stream of JobUpdatedEvent, ending after the terminal state.", { "text/event-stream": { schema: jobUpdatedEventSchema } }),
            "204": answer("The job finished and the client already has its last state: EventSource stops reconnecting."),
          },
          problems: { 400: "The id is not a UUID.", 404: "No such job." },
          storage: true,
          live: true,
          keyInUrl: true,
        }),
      },
      [WS_PATH]: {
        get: secured({
          operationId: "openWebSocket",
          tags: ["live updates"],
          summary: "Follow many jobs over one WebSocket",
          description:
            "Upgrade to a WebSocket. The client sends WebSocketClientMessage (subscribe or unsubscribe to job ids, types or everything); the server sends WebSocketServerMessage: `job.updated` with the job, the answer to each subscription, or an `error`. A client that does not read its updates is closed with code 1013.",
          responses: {
            "101": { description: "Switching Protocols: the connection is a WebSocket from here on." },
            "426": answer("A plain HTTP request, without `Upgrade: websocket`.", problemBody, { Upgrade: headers.upgrade }),
          },
          problems: {},
          raw: true,
          crossOrigin: true,
          live: true,
          keyInUrl: true,
        }),
      },
      "/stats": {
        get: secured({
          operationId: "getStats",
          tags: ["operations"],
          summary: "Counts by status; throughput and latency per minute",
          requestParams: { query: statsQuery },
          responses: { "200": answer("Statistics, computed at most once a second.", jsonBody(statsSchema)) },
          problems: { 400: "A bad query parameter." },
          conditional: true,
          storage: true,
        }),
      },
      "/metrics": {
        get: secured({
          operationId: "getMetrics",
          tags: ["operations"],
          summary: "Prometheus metrics",
          responses: { "200": answer("The Prometheus text exposition format.", { "text/plain": { schema: z.string() } }) },
          problems: {},
          conditional: true,
        }),
      },
      "/job-types": {
        get: secured({
          operationId: "listJobTypes",
          tags: ["operations"],
          summary: "The job types and their payload JSON Schemas",
          responses: { "200": answer("The registered types.", jsonBody(jobTypeListSchema)) },
          problems: {},
          conditional: true,
        }),
      },
      "/openapi.json": {
        get: secured({
          operationId: "getOpenApiDocument",
          tags: ["operations"],
          summary: "This document",
          responses: { "200": answer("The OpenAPI document.", jsonBody(z.record(z.string(), z.unknown()))) },
          problems: {},
          conditional: true,
        }),
      },
      "/healthz": {
        get: secured({
          operationId: "getHealth",
          tags: ["operations"],
          summary: "Liveness: the process answers",
          responses: { "200": answer("Alive.", jsonBody(healthSchema)) },
          problems: {},
          conditional: true,
          public: true,
        }),
      },
      "/readyz": {
        get: secured({
          operationId: "getReadiness",
          tags: ["operations"],
          summary: "Readiness: the database answers and, where jobs run, the thread pool is up",
          responses: { "200": answer("Ready.", jsonBody(readinessSchema)), "503": answer("Not ready; `checks` says what fails.", jsonBody(readinessSchema)) },
          problems: {},
          conditional: true,
          public: true,
        }),
      },
    },
  };
}

/**
 * No operation's body holds a WebSocket message, so their schemas are made apart (the client's
 * as a request is read, the server's as an answer is) and added to the components, where
 * GET /ws names them.
 */
function withWebSocketMessages(document: OpenApiDocument): OpenApiDocument {
  const client = createSchema(webSocketClientMessage, { io: "input" });
  const server = createSchema(webSocketServerMessage, { io: "output" });
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...client.components, ...server.components } };
  return document;
}

/** An operation before the answers shared across operations (304, 401, 503) are added. */
interface Operation extends Omit<ZodOpenApiOperationObject, "responses"> {
  operationId: string;
  responses: Record<string, ZodOpenApiResponseObject>;
  /** Problem answers of this operation: status → when it is given. */
  problems: Partial<Record<400 | 404 | 409 | 413 | 415 | 422, string>>;
  /** It reads or writes the database: 503 with Retry-After while the database fails. */
  storage?: boolean;
  /** Open without a key (health checks). */
  public?: boolean;
  /** Answered on the raw socket (the WebSocket upgrade): no X-Request-Id. */
  raw?: boolean;
  /** A GET answered through Express's send: its 200 carries an ETag, and If-None-Match may get 304. */
  conditional?: boolean;
  /** Refused (403) when a browser page of another origin sends it (origin-check.ts). */
  crossOrigin?: boolean;
  /** A live connection: 429 past the client's REALTIME_MAX_CONNECTIONS_PER_CLIENT. */
  live?: boolean;
  /** Takes the key as ?api_key= too (browsers cannot set headers on WebSocket or EventSource). */
  keyInUrl?: boolean;
}

function finish({ problems, storage, public: open, raw, conditional, crossOrigin, live, keyInUrl, responses, ...operation }: Operation, apiKeys: boolean): ZodOpenApiOperationObject {
  const refusal = (description: string, extra: Record<string, z.ZodType> = {}) => (raw ? { description, content: problemBody } : answer(description, problemBody, extra));
  const all: Record<string, ZodOpenApiResponseObject> = { ...responses };
  if (conditional) {
    const ok = all["200"]!;
    all["200"] = { ...ok, headers: z.object({ "X-Request-Id": headers.requestId, ETag: headers.etag }) };
    all["304"] = answer("Not Modified: the If-None-Match ETag is still current.", undefined, { ETag: headers.etag });
  }
  for (const [status, description] of Object.entries(problems)) all[status] = refusal(description);
  if (apiKeys && !open) all["401"] = refusal("No API key, or not a valid one.", { "WWW-Authenticate": headers.wwwAuthenticate });
  if (crossOrigin) all["403"] = refusal("Sent by a browser page of another origin (Origin is neither this service's nor in ALLOWED_ORIGINS); nothing was done.");
  if (live) all["429"] = refusal("The API key (the address, without keys) already holds REALTIME_MAX_CONNECTIONS_PER_CLIENT live connections.", { "Retry-After": headers.retryAfter });
  if (storage) all["503"] = refusal("The database is unavailable; nothing was stored. Retry after Retry-After seconds.", { "Retry-After": headers.retryAfter });
  const security: Record<string, string[]>[] | undefined = open ? [] : apiKeys && keyInUrl ? [{ bearer: [] }, { browserSession: [] }, { apiKeyQuery: [] }] : undefined;
  return { ...operation, ...(security && { security }), responses: sortedByStatus(all) };
}

const sortedByStatus = (responses: Record<string, ZodOpenApiResponseObject>) => Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));

/** Response headers, registered once as components. */
const headers = {
  requestId: z.string().meta({
    description: "The request's id: the caller's X-Request-Id when it is 1 to 128 of `A-Z a-z 0-9 _ . : -`, else a new UUID. Every log line of the request carries it.",
    header: { id: "X-Request-Id" },
  }),
  location: z.string().meta({ description: "The job's URL, /jobs/{id}.", example: "/jobs/0199a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d", header: { id: "Location" } }),
  replayed: z.literal("true").optional().meta({ description: "Present when an Idempotency-Key matched an earlier submission: the answer is that submission's job(s).", header: { id: "Idempotent-Replayed" } }),
  retryAfter: z.string().regex(/^\d+$/).meta({ description: "Seconds to wait before trying again.", example: "1", header: { id: "Retry-After" } }),
  etag: z.string().meta({ description: "The answer's version; send it as If-None-Match to get 304 while it is unchanged.", example: 'W/"2f1-Vb0mKQ1Bv7xw8G7nX2bOq9kG1rM"', header: { id: "ETag" } }),
  upgrade: z.literal("websocket").meta({ description: "The protocol to upgrade to.", header: { id: "Upgrade" } }),
  wwwAuthenticate: z.string().meta({ description: "The scheme to authenticate with.", example: 'Bearer realm="taskq"', header: { id: "WWW-Authenticate" } }),
};

const problemBody = { "application/problem+json": { schema: problemSchema } };
const jsonBody = (schema: z.ZodType) => ({ "application/json": { schema } });

function answer(description: string, content?: ZodOpenApiResponseObject["content"], extra: Record<string, z.ZodType> = {}): ZodOpenApiResponseObject {
  return { description, headers: z.object({ "X-Request-Id": headers.requestId, ...extra }), ...(content && { content }) };
}

const healthSchema = z.object({ status: z.literal("ok") }).meta({ id: "Health" });
const readinessSchema = z
  .object({
    status: z.enum(["ready", "not ready"]),
    checks: z.record(z.string(), z.enum(["ok", "failing"])).meta({ description: "Each check by name: database, and pool where jobs run." }),
  })
  .meta({ id: "Readiness" });

let version: string | undefined;
function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(join(projectRoot(), "package.json"), "utf8")) as { version: string }).version;
  return version;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** Each documented path and the methods it serves, for answering 405 to the others. */
export function documentedMethods(document: OpenApiDocument): Record<string, string[]> {
  return Object.fromEntries(Object.entries(document.paths ?? {}).map(([path, item]) => [path, METHODS.filter((m) => item?.[m] !== undefined)]));
}
