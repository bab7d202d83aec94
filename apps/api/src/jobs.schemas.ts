import { z } from "zod";
import { JOB_STATUSES } from "../../core/src/jobs/job";

/**
 * The request and response shapes of the job routes. The same schemas validate requests and
 * generate the OpenAPI document (openapi.ts): one source of truth.
 */

const MAX_DELAY_MS = 365 * 24 * 3_600_000;

export const submitJobSchema = z
  .strictObject({
    type: z.string().min(1).max(100).meta({ description: "A registered job type (GET /job-types).", example: "email_processing" }),
    payload: z
      .record(z.string(), z.unknown())
      .default({})
      .meta({ description: "A JSON object, validated by the type's schema.", example: { email: "user@example.com", subject: "Welcome to the platform!" } }),
    priority: z.int().min(-1_000_000).max(1_000_000).default(0).meta({ description: "Higher runs first; equal priorities run oldest first." }),
    max_attempts: z.int().min(1).max(100).optional().meta({ description: "Attempts before FAILED (default from the type, then DEFAULT_MAX_ATTEMPTS)." }),
    timeout_ms: z.int().min(1).max(86_400_000).optional().meta({ description: "Per-attempt time limit (default from the type, then DEFAULT_TIMEOUT_MS)." }),
    run_at: z.iso.datetime({ offset: true }).optional().meta({ description: "Do not run before this instant (ISO 8601)." }),
    delay_ms: z.int().min(0).max(MAX_DELAY_MS).optional().meta({ description: "Do not run before now + delay_ms. Exclusive with run_at." }),
  })
  .refine((j) => !(j.run_at !== undefined && j.delay_ms !== undefined), { message: "give run_at or delay_ms, not both", path: ["delay_ms"] })
  .meta({ id: "SubmitJob" });
export type SubmitJob = z.output<typeof submitJobSchema>;

export const MAX_BATCH = 1_000;
export const submitBatchSchema = z
  .strictObject({ jobs: z.array(z.unknown()).min(1).max(MAX_BATCH).meta({ description: `1 to ${MAX_BATCH} jobs, each a SubmitJob.` }) })
  .meta({ id: "SubmitBatch" });

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
    progress: z.unknown(),
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

const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.int().min(min).max(max));

export const listJobsQuery = z
  .strictObject({
    status: z.enum(JOB_STATUSES).optional(),
    type: z.string().min(1).max(100).optional(),
    limit: queryInt(1, 100).default(20),
    cursor: z.string().max(200).optional().meta({ description: "next_cursor of the previous page." }),
  })
  .meta({ id: "ListJobsQuery" });

export const jobListSchema = z
  .object({ items: z.array(jobSchema), next_cursor: z.string().nullable() })
  .meta({ id: "JobList" });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
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
