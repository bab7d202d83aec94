import { z } from "zod";
import type { JobHandler } from "../../core/src/handlers/handler";
import { JOB_STATUSES } from "../../core/src/jobs/job";

/**
 * The request and response shapes of the job routes. The same schemas validate requests and
 * generate the OpenAPI document (openapi.ts): one source of truth.
 */

const MAX_DELAY_MS = 365 * 24 * 3_600_000;

/** The fields of a submission besides `type` and `payload`: one definition for validation and for each type's documented schema. */
const jobOptionFields = {
  priority: z.int().min(-1_000_000).max(1_000_000).default(0).meta({ description: "Higher runs first; equal priorities run oldest first." }),
  max_attempts: z.int().min(1).max(100).optional().meta({ description: "Attempts before FAILED (default from the type, then DEFAULT_MAX_ATTEMPTS)." }),
  timeout_ms: z.int().min(1).max(86_400_000).optional().meta({ description: "Per-attempt time limit (default from the type, then DEFAULT_TIMEOUT_MS)." }),
  run_at: z.iso.datetime({ offset: true }).optional().meta({ description: "Do not run before this instant (ISO 8601). Exclusive with delay_ms." }),
  delay_ms: z.int().min(0).max(MAX_DELAY_MS).optional().meta({ description: "Do not run before now + delay_ms. Exclusive with run_at." }),
};

/** zod's refine does not reach JSON Schema; `not` (both present) says the same there. */
const RUN_AT_XOR_DELAY = { not: { properties: { run_at: {}, delay_ms: {} }, required: ["run_at", "delay_ms"] } };
const notBothRunAtAndDelay = (j: { run_at?: string | undefined; delay_ms?: number | undefined }) => !(j.run_at !== undefined && j.delay_ms !== undefined);
const runAtXorDelay = { message: "give run_at or delay_ms, not both", path: ["delay_ms"] };

/** What the service checks before it knows the type; the type's own payload schema comes next (JobSubmitter). */
export const submitJobSchema = z
  .strictObject({
    type: z.string().min(1).max(100).meta({ description: "A registered job type (GET /job-types).", example: "email_processing" }),
    payload: z.record(z.string(), z.unknown()).default({}).meta({ description: "A JSON object, validated by the type's schema." }),
    ...jobOptionFields,
  })
  .refine(notBothRunAtAndDelay, runAtXorDelay);
export type SubmitJob = z.output<typeof submitJobSchema>;

export const MAX_BATCH = 1_000;

/**
 * The documented request bodies of POST /jobs and /jobs/batch: one schema per registered type,
 * discriminated on `type`, each with the type's own payload schema (a payload is optional
 * exactly when the type accepts `{}`, the service's default). The service validates with the
 * same zod schemas.
 *
 * They are made anew for each document, so a document made after the types change describes
 * them. Their component ids live in zod's global registry, where an id may be held only once:
 * call `release()` once the document is made.
 */
export function submitJobBodySchemas(handlers: readonly JobHandler[]): { submitJob: z.ZodType; submitBatch: z.ZodType; release(): void } {
  const variants = handlers.map((handler) => {
    const names = [handler.type, ...(handler.aliases ?? [])] as [string, ...string[]];
    const payload = handler.payload.safeParse({}).success ? handler.payload.optional() : handler.payload;
    return z
      .strictObject({
        type: names.length === 1 ? z.literal(handler.type) : z.enum(names),
        payload,
        ...jobOptionFields,
      })
      .meta({
        // Component names allow letters, digits, `.`, `-` and `_`; a type name may hold others.
        id: `SubmitJob.${handler.type.replace(/[^A-Za-z0-9._-]/g, "_")}`,
        description: handler.description,
        override: RUN_AT_XOR_DELAY,
      });
  });
  const [first, ...rest] = variants;
  if (!first) throw new Error("no job types are registered");
  const submitJob = z.discriminatedUnion("type", [first, ...rest]).meta({ id: "SubmitJob", description: "A job: its type, that type's payload, and the options every job has." });
  const submitBatch = z
    .strictObject({ jobs: z.array(submitJob).min(1).max(MAX_BATCH).meta({ description: `1 to ${MAX_BATCH} jobs, stored all or none.` }) })
    .meta({ id: "SubmitBatch" });
  return {
    submitJob,
    submitBatch,
    release: () => {
      for (const schema of [...variants, submitJob, submitBatch]) z.globalRegistry.remove(schema);
    },
  };
}

/** Items are checked one by one (JobSubmitter), so errors name `jobs.3.payload.email`. */
export const submitBatchSchema = z.strictObject({ jobs: z.array(z.unknown()).min(1).max(MAX_BATCH) });

/** Idempotency-Key: visible ASCII (no spaces, which the batch's per-item keys use), 1 to 255 characters. */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[!-~]{1,255}$/, "1 to 255 visible ASCII characters")
  .meta({ description: "Repeat-safe submission: the same key and body return the first job(s) with Idempotent-Replayed: true.", example: "order-1042-welcome" });

const isoInstant = z.string().meta({ format: "date-time" });

const jobErrorSchema = z
  .object({
    name: z.string(),
    message: z.string(),
    stack: z.string().optional().meta({ description: "Only when EXPOSE_ERROR_STACK=true." }),
    retryable: z.boolean().optional(),
    attempt: z.int().optional(),
    at: isoInstant.optional(),
  })
  .meta({ id: "JobError" });

export const jobSchema = z
  .object({
    id: z.uuid(),
    type: z.string(),
    status: z.enum(JOB_STATUSES),
    payload: z.record(z.string(), z.unknown()),
    result: z.unknown().meta({ description: "The handler's return value once DONE, else null." }),
    error: jobErrorSchema.nullable(),
    error_history: z.array(jobErrorSchema),
    progress: z
      .union([z.number(), z.record(z.string(), z.unknown())])
      .nullable()
      .meta({ description: "What the handler last reported: a number (0 to 100 by convention) or a small object; null until it reports. A DONE job that reported a number shows 100." }),
    attempts: z.int(),
    max_attempts: z.int(),
    priority: z.int(),
    timeout_ms: z.int(),
    cancel_requested: z.boolean(),
    run_at: isoInstant,
    created_at: isoInstant,
    started_at: isoInstant.nullable(),
    finished_at: isoInstant.nullable(),
    updated_at: isoInstant,
  })
  .meta({ id: "Job" });

export const jobIdParams = z.strictObject({ id: z.uuid({ message: "must be a UUID" }) });

/**
 * A whole number in a query string. Parsed from the string strictly (digits only), documented as
 * the bounded integer it is, so that clients and generators send a number.
 */
export const queryInt = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.int().min(min).max(max))
    .default(fallback)
    .meta({ override: { type: "integer", minimum: min, maximum: max, default: fallback, pattern: undefined } });

/** next_cursor as this API writes it: base64url of the last row's position. */
export const cursorSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,200}$/, "not a cursor returned by this API")
  .meta({ description: "next_cursor of the previous page, as returned." });

export const listJobsQuery = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  // A type is a name: a control character (PostgreSQL refuses NUL in text) is a client's mistake.
  type: z.string().min(1).max(100).regex(/^\P{Cc}+$/u, "must not contain control characters").optional(),
  limit: queryInt(1, 100, 20).meta({ description: "Page size." }),
  cursor: cursorSchema.optional(),
});

export const jobListSchema = z
  .object({ items: z.array(jobSchema), next_cursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last page." }) })
  .meta({ id: "JobList" });

export const jobBatchSchema = z.object({ jobs: z.array(jobSchema).meta({ description: "The stored jobs, in request order." }) }).meta({ id: "JobBatch" });

export const problemSchema = z
  .object({
    type: z.string().meta({ description: "urn:taskq:problem:<kind>, stable for clients to match.", example: "urn:taskq:problem:validation-error" }),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string().optional(),
    instance: z.string().optional(),
    request_id: z.string().optional().meta({ description: "The X-Request-Id of the request; quote it when reporting a problem." }),
    errors: z
      .array(z.object({ field: z.string().meta({ description: "Dotted path, e.g. jobs.3.payload.email or query.limit." }), message: z.string() }))
      .optional()
      .meta({ description: "Each invalid field of a 400." }),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem details (application/problem+json)." });

export const jobTypeSchema = z
  .object({
    type: z.string(),
    aliases: z.array(z.string()),
    description: z.string(),
    kind: z.enum(["cpu", "io"]),
    max_attempts: z.int().nullable(),
    timeout_ms: z.int().nullable(),
    payload_schema: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "JobType" });

export const jobTypeListSchema = z.object({ items: z.array(jobTypeSchema) }).meta({ id: "JobTypeList" });
