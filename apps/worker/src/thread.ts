import { BroadcastChannel, threadId, workerData } from "node:worker_threads";
import { z } from "zod";
import { createRegistry } from "../../core/src/handlers/registry";
import type { HandlerContext } from "../../core/src/handlers/handler";
import type { JobError } from "../../core/src/jobs/job";
import { createLogger } from "../../core/src/logger";
import { type AbortMessage, type AnswersMessage, attemptKey, type LoadedMessage, type ProgressMessage, type ThreadAnswer, type ThreadBatch, type ThreadData, type ThreadTask } from "./thread-protocol";

/**
 * Worker-thread entry (Piscina). A cpu task is one handler call, answered with its
 * ThreadAnswer; an io task is a batch, whose answers go back on the channel to the main thread
 * as each job ends. No database here: the dispatcher on the main thread is the one writer of job rows.
 */
const data = workerData as ThreadData;
const registry = createRegistry({ includeTestHandlers: data.includeTestHandlers });
const logger = createLogger({ level: data.logLevel, pretty: data.pretty, defaultMeta: { threadId } });

/** By attempt (`jobId#attempt`), so that an abort meant for one attempt never reaches the next. */
const controllers = new Map<string, AbortController>();
/** Aborts that arrived before their job started here (it was still queued): applied on start. */
const abortedEarly = new Map<string, string>();
const ABORTED_EARLY_MAX = 1_000;
const fromMain = new BroadcastChannel(data.toThreadsChannel);
fromMain.unref();
fromMain.onmessage = (event) => {
  const { jobId, attempt, reason } = (event as { data: AbortMessage }).data;
  const key = attemptKey(jobId, attempt);
  const controller = controllers.get(key);
  if (controller) controller.abort(new AbortError(reason));
  else {
    // Every thread hears every abort; most are for jobs elsewhere, so keep only the newest few.
    abortedEarly.set(key, reason);
    if (abortedEarly.size > ABORTED_EARLY_MAX) abortedEarly.delete(abortedEarly.keys().next().value!);
  }
};
const toMain = new BroadcastChannel(data.fromThreadsChannel);
toMain.unref();
const runningOn = new Int32Array(data.runningOn);

class AbortError extends Error {
  override readonly name = "AbortError";
}

// Everything above is what a job needs; the pool counts this thread as warm from here on.
toMain.postMessage({ threadId, loaded: true } satisfies LoadedMessage);

/** Piscina's entry: one cpu job, answered with its ThreadAnswer, or a batch of io jobs (ThreadBatch). */
export default function run(task: ThreadTask | ThreadBatch): Promise<ThreadAnswer | null> {
  return "batch" in task ? runBatch(task.batch) : runJob(task);
}

let outbox: AnswersMessage["answers"] = [];
let flushScheduled = false;

function sendAnswers(): void {
  flushScheduled = false;
  if (outbox.length === 0) return;
  toMain.postMessage({ answers: outbox } satisfies AnswersMessage);
  outbox = [];
}

async function runBatch(tasks: ThreadTask[]): Promise<null> {
  await Promise.all(
    tasks.map(async (task) => {
      const answer = await runJob(task);
      outbox.push({ jobId: task.jobId, attempt: task.attempt, answer });
      // Jobs that end in the same turn share one message.
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(sendAnswers);
      }
    }),
  );
  // Posted before the task answers: the batch's last answers never wait for another turn.
  sendAnswers();
  return null;
}

async function runJob(task: ThreadTask): Promise<ThreadAnswer> {
  const handler = registry.get(task.type);
  if (!handler) return failure({ name: "UnknownJobTypeError", message: `No handler for type ${task.type}`, retryable: false });
  const controller = new AbortController();
  const key = attemptKey(task.jobId, task.attempt);
  controllers.set(key, controller);
  // Before the handler runs: one that never yields must still be found, to terminate its thread.
  Atomics.store(runningOn, task.slot, threadId);
  const early = abortedEarly.get(key);
  if (early !== undefined) {
    abortedEarly.delete(key);
    controller.abort(new AbortError(early));
  }
  const log = logger.child({ jobId: task.jobId, type: task.type, attempt: task.attempt });
  const ctx: HandlerContext = {
    jobId: task.jobId,
    attempt: task.attempt,
    signal: controller.signal,
    progress: (progress) => toMain.postMessage({ jobId: task.jobId, progress } satisfies ProgressMessage),
    log: {
      info: (m, meta) => log.info(m, meta),
      warn: (m, meta) => log.warn(m, meta),
      error: (m, meta) => log.error(m, meta),
    },
    settings: data.settings,
  };
  try {
    const parsed = handler.payload.safeParse(JSON.parse(task.payload));
    if (!parsed.success) {
      return failure({ name: "PayloadValidationError", message: z.prettifyError(parsed.error), retryable: false });
    }
    const value = await handler.run(parsed.data, ctx);
    return serialise(value);
  } catch (error) {
    return failure(describe(error));
  } finally {
    controllers.delete(key);
  }
}

function serialise(value: unknown): ThreadAnswer {
  try {
    const result = JSON.stringify(value ?? null) as string | undefined;
    if (result === undefined) throw new TypeError(`a ${typeof value} is not JSON`);
    return { ok: true, result };
  } catch (error) {
    return failure({
      name: "ResultNotSerializableError",
      message: `The handler's result is not JSON-serialisable: ${(error as Error).message}`,
      retryable: false,
    });
  }
}

function describe(error: unknown): JobError {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      ...(error.stack !== undefined && { stack: error.stack }),
      retryable: error.name !== "UnrecoverableError",
    };
  }
  return { name: "Error", message: String(error), retryable: true };
}

function failure(error: JobError): ThreadAnswer {
  return { ok: false, error };
}
