import type { JobError } from "../../core/src/jobs/job";
import type { Settlement } from "../../core/src/store/job-store";
import { type AbortReason, type AttemptState, decideOutcome } from "../src/decide-outcome";
import { ERROR_HISTORY_LENGTH } from "../src/retry-policy";
import type { ThreadAnswer } from "../src/thread-protocol";

const NOW = Date.parse("2026-01-02T03:04:05.000Z");
const AT = new Date(NOW).toISOString();
const RETRY_DELAY_MS = 1_234;
const earlier: JobError = { name: "Error", message: "first try", retryable: true, attempt: 1, at: "2026-01-02T03:00:00.000Z" };

const retryDelayMs = (attempt: number) => (attempt === 2 ? RETRY_DELAY_MS : Number.NaN);

function attempt(options: { attempts?: number; maxAttempts?: number; abortReason?: AbortReason | null; history?: JobError[]; progress?: string } = {}): AttemptState {
  return {
    job: {
      id: "job-1",
      lockToken: "token-1",
      attempts: options.attempts ?? 2,
      maxAttempts: options.maxAttempts ?? 3,
      timeoutMs: 500,
      errorHistory: JSON.stringify(options.history ?? [earlier]),
    },
    abortReason: options.abortReason ?? null,
    progress: options.progress ?? '{"step":3}',
  };
}

const returned: ThreadAnswer = { ok: true, result: '{"sent":true}' };
const smtp: JobError = { name: "SmtpError", message: "refused", stack: "SmtpError: refused\n    at send", retryable: true };
const threw = (error: Partial<JobError> = {}): ThreadAnswer => ({ ok: false, error: { ...smtp, ...error } });
const base = { id: "job-1", token: "token-1", progress: '{"step":3}' };
const recorded = (error: JobError) => ({ ...error, attempt: 2, at: AT });
const failedWith = (error: JobError) => ({ error: JSON.stringify(recorded(error)), errorHistory: JSON.stringify([earlier, recorded(error)]) });
const timeout: JobError = { name: "TimeoutError", message: "Job exceeded its timeout of 500 ms", retryable: true };

const cases: { name: string; attempt: AttemptState; answer: ThreadAnswer; expected: Settlement | null }[] = [
  {
    name: "the handler returned: done, with its result and last progress",
    attempt: attempt(),
    answer: returned,
    expected: { ...base, end: "done", result: '{"sent":true}', error: null, errorHistory: null, runAt: null, finishedAt: NOW },
  },
  {
    name: "the handler returned after reporting a number: done, its progress 100",
    attempt: attempt({ progress: "97" }),
    answer: returned,
    expected: { ...base, end: "done", result: '{"sent":true}', error: null, errorHistory: null, progress: "100", runAt: null, finishedAt: NOW },
  },
  ...(["timeout", "cancel", "shutdown"] as const).map((reason) => ({
    name: `the handler returned before the ${reason} abort reached it: done (it did the work)`,
    attempt: attempt({ abortReason: reason }),
    answer: returned,
    expected: { ...base, end: "done" as const, result: '{"sent":true}', error: null, errorHistory: null, runAt: null, finishedAt: NOW },
  })),
  { name: "the lease was lost, and the handler returned: nothing to record", attempt: attempt({ abortReason: "lease-lost" }), answer: returned, expected: null },
  { name: "the lease was lost, and the handler threw: nothing to record", attempt: attempt({ abortReason: "lease-lost" }), answer: threw(), expected: null },
  {
    name: "stopped for shutdown: given back uncharged, ready now, no error",
    attempt: attempt({ abortReason: "shutdown" }),
    answer: threw({ name: "AbortError", message: "shutdown" }),
    expected: { ...base, end: "given-back", result: null, error: null, errorHistory: null, runAt: NOW, finishedAt: null },
  },
  {
    name: "its thread was terminated to stop another job: given back uncharged",
    attempt: attempt(),
    answer: threw({ name: "ThreadTerminatedError", message: "another job" }),
    expected: { ...base, end: "given-back", result: null, error: null, errorHistory: null, runAt: NOW, finishedAt: null },
  },
  {
    name: "stopped after a cancel request: cancelled, no error",
    attempt: attempt({ abortReason: "cancel" }),
    answer: threw({ name: "AbortError", message: "cancel" }),
    expected: { ...base, end: "cancelled", result: null, error: null, errorHistory: null, runAt: null, finishedAt: NOW },
  },
  {
    name: "timed out with attempts left: retry after the backoff, as a TimeoutError",
    attempt: attempt({ abortReason: "timeout" }),
    answer: threw({ name: "AbortError", message: "timeout" }),
    expected: { ...base, end: "retry", result: null, ...failedWith(timeout), runAt: NOW + RETRY_DELAY_MS, finishedAt: null },
  },
  {
    name: "timed out on its last attempt: failed, as a TimeoutError",
    attempt: attempt({ abortReason: "timeout", attempts: 2, maxAttempts: 2 }),
    answer: threw({ name: "AbortError", message: "timeout" }),
    expected: { ...base, end: "failed", result: null, ...failedWith(timeout), runAt: null, finishedAt: NOW },
  },
  {
    name: "timed out while its thread was terminated for another job: the timeout counts, retry",
    attempt: attempt({ abortReason: "timeout" }),
    answer: threw({ name: "ThreadTerminatedError", message: "another job" }),
    expected: { ...base, end: "retry", result: null, ...failedWith(timeout), runAt: NOW + RETRY_DELAY_MS, finishedAt: null },
  },
  {
    name: "threw a retryable error with attempts left: retry after the backoff",
    attempt: attempt(),
    answer: threw(),
    expected: { ...base, end: "retry", result: null, ...failedWith(smtp), runAt: NOW + RETRY_DELAY_MS, finishedAt: null },
  },
  {
    name: "threw an error that does not say whether it is retryable: retry",
    attempt: attempt(),
    answer: threw({ retryable: undefined }),
    expected: { ...base, end: "retry", result: null, ...failedWith({ ...smtp, retryable: undefined }), runAt: NOW + RETRY_DELAY_MS, finishedAt: null },
  },
  {
    name: "threw an error that is not retryable, with attempts left: failed",
    attempt: attempt(),
    answer: threw({ retryable: false }),
    expected: { ...base, end: "failed", result: null, ...failedWith({ ...smtp, retryable: false }), runAt: null, finishedAt: NOW },
  },
  {
    name: "threw on its last attempt: failed",
    attempt: attempt({ attempts: 2, maxAttempts: 2 }),
    answer: threw(),
    expected: { ...base, end: "failed", result: null, ...failedWith(smtp), runAt: null, finishedAt: NOW },
  },
];

describe("decideOutcome: a thread's answer and why the handler was stopped decide the job's next state", () => {
  test.each(cases)("$name", ({ attempt: given, answer, expected }) => {
    expect(decideOutcome(given, answer, NOW, retryDelayMs)).toEqual(expected);
  });

  test(`a failure keeps the newest ${ERROR_HISTORY_LENGTH} errors in the history, this attempt's last`, () => {
    const history = Array.from({ length: ERROR_HISTORY_LENGTH }, (_, i) => ({ ...earlier, message: `try ${i}` }));
    const settlement = decideOutcome(attempt({ history }), threw(), NOW, retryDelayMs);
    const kept = JSON.parse(settlement!.errorHistory!) as JobError[];
    expect(kept).toHaveLength(ERROR_HISTORY_LENGTH);
    expect(kept[0]!.message).toBe("try 1");
    expect(kept[ERROR_HISTORY_LENGTH - 1]).toMatchObject({ name: "SmtpError", attempt: 2, at: AT });
  });

  test("the thread's answer is not changed", () => {
    const answer = threw();
    const before = JSON.stringify(answer);
    decideOutcome(attempt(), answer, NOW, retryDelayMs);
    expect(JSON.stringify(answer)).toBe(before);
  });
});
