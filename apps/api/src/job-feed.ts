import type { JobEvents, JobSubmittedEvent } from "../../core/src/events";
import { isFinished, type JobResource, type JobRow } from "../../core/src/jobs/job";
import type { Logger } from "../../core/src/logger";
import type { JobStore } from "../../core/src/store/job-store";

/** One job's state as fetched once for every subscriber; serialised at most once. */
export class JobUpdate {
  private json: string | undefined;

  constructor(
    readonly row: JobRow,
    private readonly view: (row: JobRow) => JobResource,
  ) {}

  /** Tells two states of a job apart: its updated_at, to the microsecond. Used as the SSE event id. */
  get version(): string {
    return String(this.row.updatedAt);
  }

  get finished(): boolean {
    return isFinished(this.row.status);
  }

  /** The job resource as JSON text. */
  get resourceJson(): string {
    return (this.json ??= JSON.stringify(this.view(this.row)));
  }
}

export interface SubscriptionFilter {
  jobIds?: readonly string[];
  types?: readonly string[];
  all?: boolean;
}

/** What one client (an SSE stream, a WebSocket) listens to; `deliver` is called in fetch order. */
export class Subscription {
  readonly jobIds = new Set<string>();
  readonly types = new Set<string>();
  all = false;
  closed = false;

  constructor(
    private readonly feed: JobFeed,
    readonly deliver: (update: JobUpdate) => void,
    /** Called once when the feed shuts down, so the transport can say goodbye. */
    readonly onFeedClosed: () => void,
  ) {}

  add(filter: SubscriptionFilter): void {
    this.feed.change(this, filter, true);
  }

  remove(filter: SubscriptionFilter): void {
    this.feed.change(this, filter, false);
  }

  /** Delivers the current state of these jobs to this subscriber alone (after any update already queued). */
  snapshot(jobIds: readonly string[]): void {
    this.feed.requestSnapshot(this, jobIds);
  }

  close(): void {
    if (this.closed) return;
    this.feed.change(this, { jobIds: [...this.jobIds], types: [...this.types], all: this.all }, false);
    this.closed = true;
    this.feed.forget(this);
  }
}

const FETCH_CHUNK = 500;
/**
 * Under sustained updates, reads start at most this often: a short job's submitted, claimed and
 * settled states then share one read and one message instead of three. An update after a quiet
 * spell is still read on the next turn. Measured (5,000 noop jobs, one WebSocket subscriber to
 * everything, 2 busy cores): ~820 reads without the interval, ~235 with it, and the queue's
 * throughput with the subscriber went from about a quarter to about two thirds of that without.
 */
const MIN_READ_INTERVAL_MS = 50;

/**
 * Fans `job:updated` out to live subscribers. The bus only carries job ids, so rows must be
 * read; to keep that off the hot path when nobody listens:
 * - an id is queued only if someone could want it (a subscriber of that id, or of types/all);
 * - ids queued in the same turn, while a read is in flight, or within MIN_READ_INTERVAL_MS of
 *   the previous read, share one read (a burst of updates to one job costs one read);
 * - one read at a time, so every subscriber sees a job's states in the order they were read.
 */
export class JobFeed {
  private readonly byId = new Map<string, Set<Subscription>>();
  private readonly byType = new Map<string, Set<Subscription>>();
  private readonly everything = new Set<Subscription>();
  private readonly subscriptions = new Set<Subscription>();
  private pending = new Set<string>();
  private snapshots = new Map<Subscription, Set<string>>();
  /** Cancels the read that is scheduled, if one is. */
  private scheduled: (() => void) | null = null;
  private lastReadAt = 0;
  private reading = false;
  private closed = false;

  constructor(
    private readonly store: JobStore,
    private readonly events: JobEvents,
    private readonly view: (row: JobRow) => JobResource,
    private readonly logger: Logger,
  ) {
    events.on("job:updated", this.onUpdated);
    events.on("jobs:submitted", this.onSubmitted);
  }

  /** Wraps a row read elsewhere (e.g. a stream's first read) the way the feed delivers it. */
  toUpdate(row: JobRow): JobUpdate {
    return new JobUpdate(row, this.view);
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  subscribe(deliver: (update: JobUpdate) => void, onFeedClosed: () => void): Subscription {
    const sub = new Subscription(this, deliver, onFeedClosed);
    if (!this.closed) this.subscriptions.add(sub);
    else {
      // A client arriving during shutdown is told goodbye at once, like the ones already here.
      sub.closed = true;
      queueMicrotask(onFeedClosed);
    }
    return sub;
  }

  /** Ends every subscription (their transports close) and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.off("job:updated", this.onUpdated);
    this.events.off("jobs:submitted", this.onSubmitted);
    this.scheduled?.();
    for (const sub of [...this.subscriptions]) {
      sub.close();
      sub.onFeedClosed();
    }
  }

  /** @internal Subscription.add/remove. */
  change(sub: Subscription, filter: SubscriptionFilter, on: boolean): void {
    if (sub.closed) return;
    for (const id of filter.jobIds ?? []) toggle(this.byId, id, sub, sub.jobIds, on);
    for (const type of filter.types ?? []) toggle(this.byType, type, sub, sub.types, on);
    if (filter.all) {
      sub.all = on;
      if (on) this.everything.add(sub);
      else this.everything.delete(sub);
    }
  }

  /** @internal Subscription.snapshot. */
  requestSnapshot(sub: Subscription, jobIds: readonly string[]): void {
    if (sub.closed || jobIds.length === 0) return;
    let ids = this.snapshots.get(sub);
    if (!ids) this.snapshots.set(sub, (ids = new Set()));
    for (const id of jobIds) ids.add(id);
    this.schedule();
  }

  /** @internal Subscription.close. */
  forget(sub: Subscription): void {
    this.subscriptions.delete(sub);
    this.snapshots.delete(sub);
  }

  private readonly onUpdated = (jobId: string): void => {
    if (this.everything.size === 0 && this.byType.size === 0 && !this.byId.has(jobId)) return;
    this.pending.add(jobId);
    this.schedule();
  };

  private readonly onSubmitted = (jobs: readonly JobSubmittedEvent[]): void => {
    if (this.everything.size === 0 && this.byType.size === 0) return;
    for (const job of jobs) if (this.everything.size > 0 || this.byType.has(job.type)) this.pending.add(job.id);
    this.schedule();
  };

  private schedule(): void {
    if (this.scheduled || this.reading || this.closed) return;
    if (this.pending.size === 0 && this.snapshots.size === 0) return;
    const run = () => {
      this.scheduled = null;
      void this.read();
    };
    const waitMs = this.lastReadAt + MIN_READ_INTERVAL_MS - Date.now();
    if (waitMs > 0) {
      const timer = setTimeout(run, waitMs);
      this.scheduled = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(run);
      this.scheduled = () => clearImmediate(immediate);
    }
  }

  private async read(): Promise<void> {
    const updated = this.pending;
    const snapshots = this.snapshots;
    this.pending = new Set();
    this.snapshots = new Map();
    const wanted = new Set(updated);
    for (const ids of snapshots.values()) for (const id of ids) wanted.add(id);
    this.reading = true;
    this.lastReadAt = Date.now();
    try {
      const ids = [...wanted];
      for (let i = 0; i < ids.length; i += FETCH_CHUNK) {
        const rows = await this.store.getMany(ids.slice(i, i + FETCH_CHUNK));
        for (const row of rows) this.dispatch(this.toUpdate(row), updated, snapshots);
      }
    } catch (error) {
      // Subscribers miss this round; the next update of each job carries its whole state again.
      this.logger.warn("reading updated jobs for live subscribers failed", { error, count: wanted.size });
    } finally {
      this.reading = false;
      this.schedule();
    }
  }

  private dispatch(update: JobUpdate, updated: Set<string>, snapshots: Map<Subscription, Set<string>>): void {
    const { id, type } = update.row;
    const targets = new Set<Subscription>();
    if (updated.has(id)) {
      for (const sub of this.everything) targets.add(sub);
      for (const sub of this.byId.get(id) ?? []) targets.add(sub);
      for (const sub of this.byType.get(type) ?? []) targets.add(sub);
    }
    for (const [sub, ids] of snapshots) if (ids.has(id)) targets.add(sub);
    for (const sub of targets) {
      if (sub.closed) continue;
      try {
        sub.deliver(update);
      } catch (error) {
        this.logger.warn("a live subscriber failed to take an update; closing it", { error, jobId: id });
        sub.close();
      }
    }
  }
}

function toggle(index: Map<string, Set<Subscription>>, key: string, sub: Subscription, own: Set<string>, on: boolean): void {
  let subs = index.get(key);
  if (on) {
    if (!subs) index.set(key, (subs = new Set()));
    subs.add(sub);
    own.add(key);
    return;
  }
  own.delete(key);
  subs?.delete(sub);
  if (subs?.size === 0) index.delete(key);
}
