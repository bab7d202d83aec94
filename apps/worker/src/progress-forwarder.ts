import type { JobEvents } from "../../core/src/events";
import type { JobStore } from "../../core/src/store/job-store";
import type { Attempt } from "./attempt";
import type { RunningAttempts } from "./running-attempts";
import type { ProgressMessage } from "./thread-protocol";

/** How often reported progress is written: a handler may report far more often than that. */
export const PROGRESS_FLUSH_MS = 250;

/**
 * Carries progress from the threads to the rows: each report is kept on its attempt, and the
 * latest of each is written every PROGRESS_FLUSH_MS in one statement (guarded by lock token), not
 * per report. An attempt's end writes its last progress too (decide-outcome.ts).
 */
export class ProgressForwarder {
  private readonly due = new Set<Attempt>();

  constructor(private readonly deps: { store: JobStore; running: RunningAttempts; events: JobEvents }) {}

  /** A job's progress, from its thread. */
  readonly onProgress = (message: ProgressMessage): void => {
    const attempt = this.deps.running.get(message.jobId);
    if (!attempt) return;
    attempt.progress = JSON.stringify(message.progress);
    this.due.add(attempt);
  };

  async flush(): Promise<void> {
    if (this.due.size === 0) return;
    const updates = [...this.due].map((a) => ({ id: a.job.id, token: a.job.lockToken, progress: a.progress! }));
    this.due.clear();
    await this.deps.store.saveProgress(updates);
    for (const u of updates) this.deps.events.emit("job:updated", u.id);
  }

  /** The attempt is over: its end carried its last progress. */
  forget(attempt: Attempt): void {
    this.due.delete(attempt);
  }
}
