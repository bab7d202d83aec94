import { join } from "node:path";
import { type ResourceLimits, Worker } from "node:worker_threads";

export interface WriterData {
  path: string;
  busyTimeoutMs: number;
}
export interface CheckpointerData extends WriterData {
  intervalMs: number;
}
export interface WriterRequest {
  id: number;
  sql: string;
  args: readonly unknown[];
}
/** Rows travel as one JSON string: for a claim of 128 rows that is cheaper to copy across threads than 128 objects. */
export type WriterReply = { id: number; rowsJson: string } | { id: number; result: unknown } | { id: number; error: { name: string; message: string; code?: string } };

/** better-sqlite3's error as it crossed from the thread: the same name and SQLite result code (SQLITE_BUSY…). */
export class SqliteError extends Error {
  override readonly name = "SqliteError";
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Every statement sent once the writer thread is gone (it died, or close() ended it): no later
 * try can succeed in this process, so callers that retry storage errors stop at this one.
 */
export class SqliteWriterStoppedError extends Error {
  override readonly name = "SqliteWriterStoppedError";
}

/**
 * Each statement may take a transaction's worth of JSON (1,000 rows of a batch submission is
 * ~300 kB), nothing more is kept: the thread's heap stays small and these are ceilings only.
 */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 8 };
/** The checkpointer only loops over two prepared statements. */
const CHECKPOINTER_RESOURCE_LIMITS = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 };
/** How often the checkpointer looks for new commits: the WAL holds at most about this long of writes beyond a checkpoint. */
const CHECKPOINT_INTERVAL_MS = 100;
/** SQLite's own default, for when the checkpointer is gone and the writer checkpoints again. */
const AUTOCHECKPOINT_PAGES = 1_000;

/**
 * SQLite's statements that write jobs (the Statements, the signals) run on a thread of their
 * own, on one connection, one at a time in the order they were sent. The main thread meanwhile
 * goes on parsing requests and dispatching jobs: measured on 2 cores, bulk submission 45–48k →
 * 65–78k jobs/s, and the drain, with claims pipelined (Dispatcher), 17–18k → 20–21k.
 *
 * WAL checkpoints run on a second thread, the checkpointer, and the writer's connection never
 * runs one. A checkpoint fsyncs the database file; run by the commit that crossed SQLite's
 * 1,000-page mark, it held that commit and every statement queued behind it: on a machine whose
 * fsync took ~13 ms, one-row inserts had a p99 of 13–15 ms, and 0.9 ms without (sequential,
 * 400 each). If the checkpointer stops, the writer checkpoints for itself again.
 */
export class SqliteWriter {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  private nextId = 0;
  private stopped: SqliteWriterStoppedError | null = null;
  private closing: Promise<void> | null = null;
  private onUnexpectedExit: ((error: Error) => void) | null = null;
  private onCheckpointerExit: ((error: Error) => void) | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly checkpointer: Worker,
  ) {
    // Referenced only while a statement is in flight: an idle writer keeps no process alive.
    worker.unref();
    worker.on("message", (reply: WriterReply) => {
      const waiter = this.pending.get(reply.id)!;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if ("rowsJson" in reply) waiter.resolve(JSON.parse(reply.rowsJson));
      else if ("result" in reply) waiter.resolve(reply.result);
      else waiter.reject(reply.error.name === "SqliteError" ? new SqliteError(reply.error.message, reply.error.code) : Object.assign(new Error(reply.error.message), { name: reply.error.name }));
    });
    worker.on("error", (error) => this.stop(error));
    worker.on("exit", (code) => this.stop(new Error(`the SQLite writer thread exited with code ${code}`)));
    // Never referenced: it has nothing to finish that the next checkpoint would not.
    checkpointer.unref();
    let checkpointerError: Error | null = null;
    checkpointer.on("error", (error) => {
      checkpointerError = error;
    });
    checkpointer.on("exit", (code) => {
      if (this.closing) return;
      const error = checkpointerError ?? new Error(`the SQLite checkpointer thread exited with code ${code}`);
      // Without it the WAL would grow with every commit: the writer's commits checkpoint again.
      this.run(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`, []).catch(() => {});
      this.onCheckpointerExit?.(error);
    });
  }

  /** Starts the thread and resolves once its connection is open (or rejects with why it could not open). */
  static async open(data: WriterData): Promise<SqliteWriter> {
    const worker = await startThread("writer.thread.js", data, RESOURCE_LIMITS);
    const checkpointerData: CheckpointerData = { ...data, intervalMs: CHECKPOINT_INTERVAL_MS };
    const checkpointer = await startThread("checkpointer.thread.js", checkpointerData, CHECKPOINTER_RESOURCE_LIMITS).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    return new SqliteWriter(worker, checkpointer);
  }

  /** Runs one statement (runDirect's `$n` form) after every statement sent before it. */
  run<T>(sql: string, args: readonly unknown[]): Promise<T> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, sql, args } satisfies WriterRequest);
    });
  }

  /** Called once if the thread stops other than by close(): every write of this process fails from then on. */
  onExit(handler: (error: Error) => void): void {
    this.onUnexpectedExit = handler;
  }

  /**
   * Called if the checkpointer thread stops other than by close(). Writes go on; the writer's
   * own commits checkpoint from then on, as SQLite does by default.
   */
  onCheckpointerStopped(handler: (error: Error) => void): void {
    this.onCheckpointerExit = handler;
  }

  /** Lets the statements already sent finish, then closes both connections and ends both threads. */
  close(): Promise<void> {
    this.closing ??= Promise.all([closeThread(this.checkpointer), closeThread(this.worker)]).then(() => {});
    return this.closing;
  }

  private stop(error: Error): void {
    if (this.stopped) return;
    this.stopped = new SqliteWriterStoppedError(this.closing ? "the SQLite writer is closed" : `the SQLite writer stopped: ${error.message}`, { cause: error });
    for (const waiter of this.pending.values()) waiter.reject(this.stopped);
    this.pending.clear();
    if (!this.closing) this.onUnexpectedExit?.(error);
  }
}

/** A thread of this directory, once it has opened its connection (or why it could not). */
async function startThread(file: string, data: WriterData, resourceLimits: ResourceLimits): Promise<Worker> {
  const worker = new Worker(join(__dirname, file), { workerData: data, resourceLimits });
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  return worker;
}

/** Asks a thread to close its connection, and waits for it to end (at once if it already has). */
function closeThread(worker: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    if (worker.threadId === -1) return resolve();
    worker.once("exit", () => resolve());
    worker.postMessage("close");
  });
}
