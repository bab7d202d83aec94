import type { Config } from "../../core/src/config";
import type { JobEvents } from "../../core/src/events";
import type { Logger } from "../../core/src/logger";
import type { JobStore } from "../../core/src/store/job-store";
import { nowMs } from "../../core/src/time";

/**
 * Takes back RUNNING jobs whose worker is gone (Statements.reclaim): at start, those a previous
 * run under this WORKER_ID left; then, every REAPER_INTERVAL_MS, any whose lease expired. Each
 * lost attempt counts: the job is PENDING again, FAILED once no attempt is left, or CANCELLED
 * when a cancel was requested.
 */
export class Reaper {
  constructor(private readonly deps: { store: JobStore; events: JobEvents; log: Logger; config: Pick<Config, "WORKER_ID"> }) {}

  async recoverOwn(): Promise<void> {
    const { store, events, log, config } = this.deps;
    const recovered = await store.reclaim(config.WORKER_ID);
    if (recovered.length > 0) log.warn("recovered jobs left RUNNING by an earlier run", { count: recovered.length });
    if (recovered.length > 0) events.emit("jobs:reclaimed", recovered.length);
  }

  async reapExpired(): Promise<void> {
    const { store, events, log } = this.deps;
    const reclaimed = await store.reclaim(null);
    if (reclaimed.length === 0) return;
    log.warn("reclaimed jobs whose worker stopped heartbeating", { count: reclaimed.length, ids: reclaimed.slice(0, 20).map((r) => r.id) });
    events.emit("jobs:reclaimed", reclaimed.length);
    for (const r of reclaimed) events.emit("job:updated", r.id);
    // Through the bus, so that workers in other processes wake too.
    events.emit("jobs:available", nowMs());
  }
}
