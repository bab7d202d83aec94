import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import type { HandlerRegistry } from "../../core/src/handlers/registry";
import type { Logger } from "../../core/src/logger";
import type { JobStore } from "../../core/src/store/job-store";
import { Dispatcher } from "./dispatcher";
import { startRetentionSweep } from "./retention";
import { ThreadPools } from "./thread-pools";

/** Loading a thread takes 0.1–0.3 s here; this is for a thread that never gets there. */
const THREADS_LOAD_TIMEOUT_MS = 60_000;

export interface Worker {
  readonly dispatcher: Dispatcher;
  readonly pools: ThreadPools;
  /** Drains and closes, in order: stop claiming, finish or give back, close the threads. */
  stop(): Promise<void>;
}

export async function startWorker(deps: { config: Config; logger: Logger; store: JobStore; registry: HandlerRegistry; events: JobEvents }): Promise<Worker> {
  // Progress only arrives once jobs run, by which time `dispatcher` is assigned.
  const pools = new ThreadPools(deps.config, (message) => dispatcher.onProgress(message));
  const dispatcher = new Dispatcher({ ...deps, pools });
  try {
    await pools.whenLoaded(THREADS_LOAD_TIMEOUT_MS);
  } catch (error) {
    await pools.close();
    throw error;
  }
  await dispatcher.start();
  const stopRetention = startRetentionSweep(deps.store, {
    retentionMs: deps.config.RETENTION_MS,
    sweepMs: deps.config.RETENTION_SWEEP_MS,
    logger: deps.logger,
  });
  return {
    dispatcher,
    pools,
    async stop() {
      stopRetention();
      try {
        await dispatcher.stop();
      } finally {
        await pools.close();
      }
    },
  };
}
