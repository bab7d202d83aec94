import { toIso } from "../time";

export const JOB_STATUSES = ["PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ["DONE", "FAILED", "CANCELLED"];

export function isFinished(status: string): boolean {
  return (FINISHED_STATUSES as readonly string[]).includes(status);
}

/** What a failed attempt leaves behind. `stack` is stored, and shown only when EXPOSE_ERROR_STACK is on. */
export interface JobError {
  name: string;
  message: string;
  stack?: string;
  retryable?: boolean;
  attempt?: number;
  at?: string;
}

/** A row of the jobs table as the store returns it (JSON columns still as text). */
export interface JobRow {
  id: string;
  type: string;
  status: string;
  payload: string;
  result: string | null;
  error: string | null;
  errorHistory: string;
  progress: string | null;
  attempts: number;
  maxAttempts: number;
  priority: number;
  timeoutMs: number;
  runAt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  lockedBy: string | null;
  lockToken: string | null;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  idempotencyKey: string | null;
  requestHash: string | null;
}

/** The job as clients see it: snake_case like the original API, instants in ISO 8601 UTC. */
export interface JobResource {
  id: string;
  type: string;
  status: JobStatus;
  payload: unknown;
  result: unknown;
  error: JobError | null;
  error_history: JobError[];
  progress: unknown;
  attempts: number;
  max_attempts: number;
  priority: number;
  timeout_ms: number;
  cancel_requested: boolean;
  run_at: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

export function toJobResource(row: JobRow, options: { exposeStack: boolean }): JobResource {
  const strip = (e: JobError): JobError => {
    if (options.exposeStack) return e;
    const { stack: _stack, ...rest } = e;
    return rest;
  };
  const error = parse(row.error) as JobError | null;
  return {
    id: row.id,
    type: row.type,
    status: row.status as JobStatus,
    payload: parse(row.payload),
    result: parse(row.result),
    error: error && strip(error),
    error_history: (parse(row.errorHistory) as JobError[]).map(strip),
    progress: parse(row.progress),
    attempts: row.attempts,
    max_attempts: row.maxAttempts,
    priority: row.priority,
    timeout_ms: row.timeoutMs,
    cancel_requested: row.cancelRequested,
    run_at: toIso(row.runAt)!,
    created_at: toIso(row.createdAt)!,
    started_at: toIso(row.startedAt),
    finished_at: toIso(row.finishedAt),
    updated_at: toIso(row.updatedAt)!,
  };
}
