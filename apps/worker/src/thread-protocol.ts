import type { JobError } from "../../core/src/jobs/job";
import type { HandlerSettings } from "../../core/src/handlers/handler";

/** What the dispatcher sends a thread for one attempt. The payload stays JSON text end to end. */
export interface ThreadTask {
  jobId: string;
  type: string;
  payload: string;
  attempt: number;
  /** The attempt's entry in ThreadData.runningOn, where the thread writes its threadId as it starts. */
  slot: number;
}

/**
 * What a thread answers for one attempt: the handler's result as JSON text, or its error. A
 * thread never throws for a handler's failure. (What becomes of the job is decided on the main
 * thread: decide-outcome.ts.)
 */
export type ThreadAnswer = { ok: true; result: string } | { ok: false; error: JobError };

/**
 * Io jobs launched together go to a thread as one Piscina task. Each answer comes back on the
 * channel from the threads as soon as its job ends (AnswersMessage), not with the task, so a
 * slow job never holds back the others; the task itself answers null once every job has ended.
 */
export interface ThreadBatch {
  batch: ThreadTask[];
}

/** Threads → main: answers for batched jobs, gathered per turn of the thread's event loop. */
export interface AnswersMessage {
  answers: { jobId: string; attempt: number; answer: ThreadAnswer }[];
}

/** Fixed at pool start, shared by every thread. */
export interface ThreadData {
  /** Main → threads: AbortMessage asks a handler to stop (its ctx.signal aborts). */
  toThreadsChannel: string;
  /** Threads → main: FromThreadMessage (progress, answers of batched io jobs, "loaded"). */
  fromThreadsChannel: string;
  /**
   * Int32 per slot: the threadId of the thread running the attempt launched into that slot,
   * written by the thread before its handler starts (0 until then). The dispatcher needs it only
   * to terminate a handler that ignores its abort, and to tell the other jobs on that thread
   * they were bystanders; a message per job to say it cost the drain ~7% of its throughput.
   */
  runningOn: SharedArrayBuffer;
  includeTestHandlers: boolean;
  logLevel: string;
  pretty: boolean;
  settings: HandlerSettings;
}

/** One attempt's key, on both sides: an abort or an answer meant for one attempt never reaches the next. */
export const attemptKey = (jobId: string, attempt: number): string => `${jobId}#${attempt}`;

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

/** Sent once by each thread when its module has loaded (handlers, schemas, logger): it can run jobs at full speed. */
export interface LoadedMessage {
  threadId: number;
  loaded: true;
}

/** Everything the threads send the main thread, on ThreadData.fromThreadsChannel. */
export type FromThreadMessage = ProgressMessage | AnswersMessage | LoadedMessage;
