import type { z } from "zod";

/**
 * What a handler gets besides its payload. `signal` aborts on timeout, cancellation or
 * shutdown; a handler must await all its work and stop when it fires.
 */
export interface HandlerContext {
  jobId: string;
  attempt: number;
  signal: AbortSignal;
  /** Reports progress: a number 0..100 or a small JSON object. Throttled before it is stored. */
  progress(value: number | Record<string, unknown>): void;
  log: {
    info(message: string, meta?: Record<string, unknown>): void;
    warn(message: string, meta?: Record<string, unknown>): void;
    error(message: string, meta?: Record<string, unknown>): void;
  };
  /** Settings the service passes to its threads (e.g. EMAIL_DELAY_MS). */
  settings: HandlerSettings;
}

export interface HandlerSettings {
  emailDelayMs: number;
  /** CHAOS_EXECUTION_LOG (test only). */
  chaosExecutionLog?: string | undefined;
}

/**
 * CPU-bound handlers get a thread each; I/O-bound ones share threads, several at a time
 * (Piscina's concurrentTasksPerWorker), so twenty waiting jobs do not need twenty threads.
 */
export type HandlerKind = "cpu" | "io";

export interface JobHandler<S extends z.ZodType = z.ZodType> {
  type: string;
  /** Other names accepted for this type (kept so older clients keep working). */
  aliases?: readonly string[];
  description: string;
  kind: HandlerKind;
  payload: S;
  /** Defaults for jobs of this type; a submission may override them, config supplies the rest. */
  maxAttempts?: number;
  timeoutMs?: number;
  run(payload: z.output<S>, ctx: HandlerContext): Promise<unknown>;
}

export function defineHandler<S extends z.ZodType>(handler: JobHandler<S>): JobHandler<S> {
  return handler;
}

/** Thrown by a handler to fail its job at once, with no further attempts. */
export class UnrecoverableError extends Error {
  override readonly name: string = "UnrecoverableError";
}
