/**
 * One message between processes: `o` the sending process, `k` the kind, `ids` the jobs
 * concerned, `at` (available only) when the work announced is due: distinct run_at values in
 * whole ms, ascending, the earliest DUE_TIMES_PER_MESSAGE of them; `t` (available only) the
 * job types of that work, absent when an announcement merged into it did not know them.
 */
export interface SignalMessage {
  o: string;
  k: "available" | "cancel" | "updated";
  ids?: string[];
  at?: number[];
  t?: string[];
}

/**
 * How messages travel between the processes sharing a database; one implementation per dialect
 * (postgresql/listen-notify.ts, sqlite/signals.ts), used by the Notifier (notifier.ts).
 */
export interface SignalTransport {
  /** How long job updates (frequent, for observers only) are gathered before one message carries them. */
  readonly updateFlushMs: number;
  /** Delivers the messages to every process listening on this database (the sender's included). */
  publish(messages: readonly SignalMessage[]): Promise<void>;
  /**
   * Starts delivering messages to `onMessage`. `onGap` runs when messages may have been missed
   * (the connection was lost and is back), so the caller can look at the database again.
   */
  listen(onMessage: (message: SignalMessage) => void, onGap: () => void): Promise<void>;
  close(): Promise<void>;
}
