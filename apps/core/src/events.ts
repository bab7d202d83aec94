import { EventEmitter } from "node:events";

/**
 * Lifecycle signals inside one process. In the all-in-one mode the API and the dispatcher share
 * one bus, so a submission wakes the dispatcher at once and a cancel reaches it at once; across
 * processes the store's notifier carries the same signals (or the safety poll finds them).
 */
export interface JobEventMap {
  /** New PENDING work was committed. */
  "jobs:available": [];
  /** A cancel was requested for a RUNNING job. */
  "job:cancel-requested": [jobId: string];
  /** A job changed state (claimed, settled, progress, cancelled, retried). */
  "job:updated": [jobId: string];
}

export class JobEvents extends EventEmitter<JobEventMap> {
  constructor() {
    super();
    // Every SSE/WebSocket subscriber adds a listener; a busy API has many.
    this.setMaxListeners(0);
  }
}
