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

/**
 * What one client (an SSE stream, a WebSocket) listens to. `deliver` is handed the updates of one
 * read that concern this client, in read order, one state per job; a client gets each of its
 * jobs' states in the order they were read.
 */
export class Subscription {
  readonly jobIds = new Set<string>();
  readonly types = new Set<string>();
  all = false;
  closed = false;

  constructor(
    private readonly feed: JobFeed,
    readonly deliver: (updates: readonly JobUpdate[]) => void,
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
 * Updates handed to subscribers before the fan-out yields to the event loop, so that requests,
 * health probes and the dispatcher are served between slices of a large fan-out (500 clients
 * subscribed to everything and a batch of 1,000 jobs is half a million deliveries).
 */
const DELIVERIES_PER_TURN = 1_000;
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
 * - ids queued in the same turn, while a read is in flight or being delivered, or within
 *   MIN_READ_INTERVAL_MS of the previous read, share one read: a burst of updates to one job
 *   costs one read and reaches each subscriber once, in its latest state;
 * - one read, and its delivery, at a time, so every subscriber sees a job's states in the order
 *   they were read;
 * - each update is serialised once for all its subscribers (JobUpdate), and the delivery yields
 *   to the event loop every DELIVERIES_PER_TURN updates.
 * The slower the fan-out, the more updates the next read merges.
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

  subscribe(deliver: (updates: readonly JobUpdate[]) => void, onFeedClosed: () => void): Subscription {
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
        await this.deliver(rows.map((row) => this.toUpdate(row)), updated, snapshots);
      }
    } catch (error) {
      // Subscribers miss this round; the next update of each job carries its whole state again.
      this.logger.warn("reading updated jobs for live subscribers failed", { error, count: wanted.size });
    } finally {
      this.reading = false;
      this.schedule();
    }
  }

  /**
   * Hands each subscriber the updates it wants. Subscribers of everything share one list; the
   * others get lists of their own (their ids, types and snapshots), each job at most once.
   */
  private async deliver(updates: readonly JobUpdate[], updated: Set<string>, snapshots: Map<Subscription, Set<string>>): Promise<void> {
    const forEverything = updates.filter((update) => updated.has(update.row.id));
    const own = new Map<Subscription, JobUpdate[]>();
    for (const update of updates) {
      const { id, type } = update.row;
      const targets = new Set<Subscription>();
      if (updated.has(id)) {
        for (const sub of this.byId.get(id) ?? []) targets.add(sub);
        for (const sub of this.byType.get(type) ?? []) targets.add(sub);
      }
      for (const [sub, ids] of snapshots) if (ids.has(id)) targets.add(sub);
      for (const sub of targets) {
        if (sub.all && updated.has(id)) continue;
        const list = own.get(sub);
        if (list) list.push(update);
        else own.set(sub, [update]);
      }
    }
    const lists: [Subscription, readonly JobUpdate[]][] = [];
    if (forEverything.length > 0) for (const sub of this.everything) lists.push([sub, forEverything]);
    for (const entry of own) lists.push(entry);

    let left = DELIVERIES_PER_TURN;
    for (const [sub, list] of lists) {
      for (let from = 0; from < list.length && !sub.closed && !this.closed; ) {
        const to = Math.min(list.length, from + left);
        this.hand(sub, from === 0 && to === list.length ? list : list.slice(from, to));
        left -= to - from;
        from = to;
        if (left === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          left = DELIVERIES_PER_TURN;
        }
      }
    }
  }

  private hand(sub: Subscription, updates: readonly JobUpdate[]): void {
    try {
      sub.deliver(updates);
    } catch (error) {
      this.logger.warn("a live subscriber failed to take an update; closing it", { error, jobId: updates[0]?.row.id });
      sub.close();
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
