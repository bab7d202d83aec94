import type { JobError } from "../../core/src/jobs/job";
import type { HandlerSettings } from "../../core/src/handlers/handler";

/** What the dispatcher sends a thread for one attempt. The payload stays JSON text end to end. */
export interface ThreadTask {
  jobId: string;
  type: string;
  payload: string;
  attempt: number;
}

/** What a thread answers: the result as JSON text, or the error. A thread never throws for a handler's failure. */
export type ThreadOutcome = { ok: true; result: string } | { ok: false; error: JobError };

/** Fixed at pool start, shared by every thread. */
export interface ThreadData {
  /** Main → threads: { jobId, reason } asks a handler to stop (its ctx.signal aborts). */
  controlChannel: string;
  /** Threads → main: ProgressMessage, StartedMessage and LoadedMessage. */
  progressChannel: string;
  includeTestHandlers: boolean;
  logLevel: string;
  pretty: boolean;
  settings: HandlerSettings;
}

/** Main → threads. `attempt` keeps an abort of one attempt from reaching a later attempt of the same job. */
export interface AbortMessage {
  jobId: string;
  attempt: number;
  reason: string;
}

export interface ProgressMessage {
  jobId: string;
  progress: number | Record<string, unknown>;
}

/**
 * Sent by a thread as it starts a job: which thread runs it, so that the dispatcher can
 * terminate that thread if the handler does not stop (tasks are run without Piscina's
 * AbortSignal, which would limit every thread to one task at a time).
 */
export interface StartedMessage {
  jobId: string;
  threadId: number;
  started: true;
}

export type ThreadEvent = ProgressMessage | StartedMessage;

/** Sent once by each thread when its module has loaded (handlers, schemas, logger): it can run jobs at full speed. */
export interface LoadedMessage {
  threadId: number;
  loaded: true;
}
