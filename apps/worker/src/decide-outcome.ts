import type { JobError } from "../../core/src/jobs/job";
import type { ClaimedJob, Settlement } from "../../core/src/store/job-store";
import { ERROR_HISTORY_LENGTH } from "./retry-policy";
import type { ThreadAnswer } from "./thread-protocol";

/** Why the dispatcher stopped a handler before it returned. */
export type AbortReason = "timeout" | "cancel" | "shutdown" | "lease-lost";

/** What of an attempt (attempt.ts) decides its end besides the thread's answer. */
export interface AttemptState {
  readonly job: Pick<ClaimedJob, "id" | "lockToken" | "attempts" | "maxAttempts" | "timeoutMs" | "errorHistory">;
  /** Why the dispatcher asked the handler to stop, if it did. */
  readonly abortReason: AbortReason | null;
  /** The last progress the handler reported (JSON text), written with the end. */
  readonly progress: string | null;
}

/**
 * Turns a thread's answer into the row's next state, `now`, with `retryDelayMs` for the backoff
 * before another attempt (retry-policy.ts); null when the job is no longer ours (its
 * lease was taken), so nothing may be written:
 * - done: the handler returned, even if an abort was on its way (it did the work); progress
 *   reported as a number is then 100;
 * - given-back, uncharged: stopped for shutdown, or its thread was terminated to stop another job;
 * - cancelled: stopped after a cancel request;
 * - retry after a backoff: failed (a timeout counts as a retryable failure) with attempts left and
 *   an error that does not say it is not retryable;
 * - failed: the rest.
 */
export function decideOutcome(attempt: AttemptState, answer: ThreadAnswer, now: number, retryDelayMs: (attempt: number) => number): Settlement | null {
  const { job, abortReason } = attempt;
  const base = { id: job.id, token: job.lockToken, result: null, error: null, errorHistory: null, progress: attempt.progress, runAt: null, finishedAt: null };
  if (abortReason === "lease-lost") return null;
  if (answer.ok) return { ...base, end: "done", result: answer.result, progress: finishedProgress(base.progress), finishedAt: now };
  if (abortReason === "shutdown" || (!abortReason && isBystander(answer.error))) return { ...base, end: "given-back", runAt: now };
  if (abortReason === "cancel") return { ...base, end: "cancelled", finishedAt: now };

  const cause: JobError =
    abortReason === "timeout" ? { name: "TimeoutError", message: `Job exceeded its timeout of ${job.timeoutMs} ms`, retryable: true } : answer.error;
  const error: JobError = { ...cause, attempt: job.attempts, at: new Date(now).toISOString() };
  const history = [...(JSON.parse(job.errorHistory) as JobError[]), error].slice(-ERROR_HISTORY_LENGTH);
  const failed = { ...base, error: JSON.stringify(error), errorHistory: JSON.stringify(history) };
  if (error.retryable !== false && job.attempts < job.maxAttempts) {
    return { ...failed, end: "retry", runAt: now + retryDelayMs(job.attempts) };
  }
  return { ...failed, end: "failed", finishedAt: now };
}

/**
 * A DONE job's progress: a number becomes 100 (the last report may be a round short, or arrive
 * after the result); an object, the handler's own account, stays as it was last reported.
 */
function finishedProgress(progress: string | null): string | null {
  return progress !== null && typeof JSON.parse(progress) === "number" ? "100" : progress;
}

/** The job did nothing wrong: its thread was terminated to stop another job, so the attempt is given back uncharged. */
function isBystander(error: JobError): boolean {
  return error.name === "ThreadTerminatedError";
}
