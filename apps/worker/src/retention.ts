import type { Logger } from "../../core/src/logger";
import type { JobStore } from "../../core/src/store/job-store";
import { nowMs } from "../../core/src/time";

/** Purges finished jobs older than RETENTION_MS every RETENTION_SWEEP_MS. RETENTION_MS=0 keeps everything. */
export function startRetentionSweep(store: JobStore, options: { retentionMs: number; sweepMs: number; logger: Logger }): () => void {
  if (options.retentionMs === 0) return () => {};
  const timer = setInterval(() => {
    store
      .purgeFinished(nowMs() - options.retentionMs)
      .then((count) => count > 0 && options.logger.info("retention: purged finished jobs", { count }))
      .catch((error: unknown) => options.logger.error("retention sweep failed", { error }));
  }, options.sweepMs);
  timer.unref();
  return () => clearInterval(timer);
}
