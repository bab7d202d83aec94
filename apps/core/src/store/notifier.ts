import { randomBytes } from "node:crypto";
import type { JobEventMap, JobEvents } from "../events";
import type { Logger } from "../logger";
import { earliestDistinctMs, nowMs } from "../time";
import type { Database } from "./database";
import { PostgresSignalTransport } from "./postgresql/listen-notify";
import type { SignalMessage, SignalTransport } from "./signal-transport";
import { type SqlitePoll, SqliteSignalTransport } from "./sqlite/signals";

/** Later due times are left to the receivers' safety poll; a NOTIFY payload stays small. */
const DUE_TIMES_PER_MESSAGE = 100;

/** Ids per message: a PostgreSQL NOTIFY payload must stay under 8,000 bytes (36-byte UUIDs, quoted, comma-separated). */
const IDS_PER_MESSAGE = 190;

/**
 * Carries the JobEvents bus across processes. Local events are published in batches (a wake-up
 * or a cancel at once, job updates every transport.updateFlushMs); messages from other processes are
 * re-emitted on the local bus, so the dispatcher and the API only ever listen locally. A
 * process's own messages come back from the transport and are dropped by origin, so nothing
 * is handled twice.
 */
export class Notifier {
  readonly origin = randomBytes(6).toString("hex");
  /** Messages sent and received from other processes, for tests and metrics. */
  readonly counts = { published: 0, received: 0 };
  /** When the work announced since the last flush is due. */
  private readonly dueTimes = new Set<number>();
  /** The types of the work announced since the last flush; null once one announcement did not say. */
  private dueTypes: Set<string> | null = new Set();
  private readonly cancels = new Set<string>();
  private readonly updates = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** True while re-emitting a remote message, so that it is not published back. */
  private replaying = false;
  private closed = false;

  constructor(
    private readonly events: JobEvents,
    private readonly transport: SignalTransport,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    // A catch-up after a gap concerns this process only: it is not published.
    await this.transport.listen(this.receive, () => this.replay(() => this.events.emit("jobs:available", nowMs())));
    this.events.on("jobs:available", this.onAvailable);
    this.events.on("job:cancel-requested", this.onCancel);
    this.events.on("job:updated", this.onUpdated);
  }

  private readonly onAvailable = (dueAt: number, types?: readonly string[]): void => {
    if (this.replaying) return;
    this.dueTimes.add(dueAt);
    if (types === undefined) this.dueTypes = null;
    else for (const type of types) this.dueTypes?.add(type);
    this.flushSoon();
  };

  private readonly onCancel = (id: string): void => {
    if (this.replaying) return;
    this.cancels.add(id);
    this.flushSoon();
  };

  private readonly onUpdated = (id: string): void => {
    if (this.replaying) return;
    this.updates.add(id);
    this.timer ??= setTimeout(() => this.flush(), this.transport.updateFlushMs);
  };

  private flushSoon(): void {
    this.immediate ??= setImmediate(() => this.flush());
  }

  /** Sends everything pending as few messages; one send at a time, in order. */
  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    const messages: SignalMessage[] = [];
    if (this.dueTimes.size > 0) {
      const at = earliestDistinctMs(this.dueTimes, DUE_TIMES_PER_MESSAGE);
      messages.push({ o: this.origin, k: "available", at, ...(this.dueTypes && { t: [...this.dueTypes] }) });
    }
    for (const ids of chunks(this.cancels)) messages.push({ o: this.origin, k: "cancel", ids });
    for (const ids of chunks(this.updates)) messages.push({ o: this.origin, k: "updated", ids });
    this.dueTimes.clear();
    this.dueTypes = new Set();
    this.cancels.clear();
    this.updates.clear();
    if (messages.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        await this.transport.publish(messages);
        this.counts.published += messages.length;
      } catch (error) {
        // Other processes still find the work by their safety poll and heartbeat; nothing is lost.
        if (!this.closed) this.logger.warn("publishing signals to other processes failed", { error, messages: messages.length });
      }
    });
    return this.flushing;
  }

  private readonly receive = (message: SignalMessage): void => {
    if (message.o === this.origin || this.closed) return;
    this.counts.received++;
    this.replay(() => emitRemote(this.events, message));
  };

  private replay(emit: () => void): void {
    this.replaying = true;
    try {
      emit();
    } catch (error) {
      this.logger.error("a listener failed on a signal from another process", { error });
    } finally {
      this.replaying = false;
    }
  }

  /** Stops listening; what is pending is still sent. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.events.off("jobs:available", this.onAvailable);
    this.events.off("job:cancel-requested", this.onCancel);
    this.events.off("job:updated", this.onUpdated);
    await this.flush();
    this.closed = true;
    await this.transport.close();
  }
}

function emitRemote(events: JobEvents, message: SignalMessage): void {
  const name: keyof JobEventMap = message.k === "available" ? "jobs:available" : message.k === "cancel" ? "job:cancel-requested" : "job:updated";
  // Every "available" message carries `at` (the type, shared with the other kinds, cannot say so).
  if (name === "jobs:available") for (const dueAt of message.at ?? [nowMs()]) events.emit(name, dueAt, message.t);
  else for (const id of message.ids ?? []) events.emit(name, id);
}

function* chunks(ids: Set<string>): Generator<string[]> {
  const all = [...ids];
  for (let i = 0; i < all.length; i += IDS_PER_MESSAGE) yield all.slice(i, i + IDS_PER_MESSAGE);
}

/** The notifier for this database: LISTEN/NOTIFY on PostgreSQL, a signals table polled by data_version on SQLite. */
export async function startNotifier(db: Database, events: JobEvents, logger: Logger, options: { sqlitePoll: SqlitePoll }): Promise<Notifier> {
  const transport = db.dialect === "postgresql" ? new PostgresSignalTransport(db, logger) : new SqliteSignalTransport(db, options.sqlitePoll, logger);
  const notifier = new Notifier(events, transport, logger);
  await notifier.start();
  return notifier;
}
