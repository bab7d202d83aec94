import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { BroadcastChannel } from "node:worker_threads";
import { Piscina } from "piscina";
import type { Config } from "../../core/src/config";
import type { HandlerKind } from "../../core/src/handlers/handler";
import { type AbortMessage, attemptKey, type FromThreadMessage, type ProgressMessage, type ThreadAnswer, type ThreadBatch, type ThreadData, type ThreadTask } from "./thread-protocol";

/**
 * Two Piscina pools over the same thread entry: "cpu" gives each job a thread to itself,
 * "io" lets several jobs share a thread. Each has a fixed size (min = max), so capacity is
 * known and the dispatcher never claims more than it can start.
 */
export class ThreadPools {
  private readonly pools: Record<HandlerKind, Piscina<ThreadTask | ThreadBatch, ThreadAnswer | null>>;
  /** Jobs each pool runs at once: its fixed thread count × the jobs a thread takes. */
  private readonly capacities: Record<HandlerKind, number>;
  /** ThreadData.runningOn: slots 0 … cpu capacity − 1 for the cpu pool, the rest for io. */
  private readonly runningOn: Int32Array;
  private readonly freeSlots: Record<HandlerKind, number[]>;
  private readonly toThreads: BroadcastChannel;
  private readonly fromThreads: BroadcastChannel;
  private closed = false;
  /** Threads that have loaded their module, replacements included. */
  private readonly loaded = new Set<number>();
  private onLoaded: (() => void) | null = null;
  /** Io jobs launched in this turn, sent together at its end (sendIoBatches). */
  private ioLaunched: ThreadTask[] = [];
  /** Io jobs sent and not yet ended, by attemptKey: their answers arrive on the channel from the threads. */
  private readonly ioWaiting = new Map<string, { resolve: (answer: ThreadAnswer) => void; reject: (error: unknown) => void }>();

  constructor(config: Config, onProgress: (message: ProgressMessage) => void) {
    this.capacities = { cpu: config.CPU_THREADS, io: config.IO_THREADS * config.IO_CONCURRENCY_PER_THREAD };
    const { cpu, io } = this.capacities;
    const runningOn = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (cpu + io));
    this.runningOn = new Int32Array(runningOn);
    this.freeSlots = { cpu: range(0, cpu), io: range(cpu, cpu + io) };
    // Channels are named per pool set so that two services in one process (tests) stay apart.
    const id = randomUUID();
    const data: ThreadData = {
      toThreadsChannel: `taskq:to-threads:${id}`,
      fromThreadsChannel: `taskq:from-threads:${id}`,
      runningOn,
      includeTestHandlers: config.ENABLE_TEST_HANDLERS,
      logLevel: config.LOG_LEVEL,
      pretty: config.NODE_ENV !== "production",
      settings: { emailDelayMs: config.EMAIL_DELAY_MS, chaosExecutionLog: config.CHAOS_EXECUTION_LOG },
    };
    this.toThreads = new BroadcastChannel(data.toThreadsChannel);
    this.fromThreads = new BroadcastChannel(data.fromThreadsChannel);
    this.fromThreads.onmessage = (event) => {
      const message = (event as { data: FromThreadMessage }).data;
      if ("answers" in message) {
        for (const { jobId, attempt, answer } of message.answers) this.takeIoWaiter(jobId, attempt)?.resolve(answer);
      } else if ("loaded" in message) {
        this.loaded.add(message.threadId);
        this.onLoaded?.();
      } else onProgress(message);
    };
    this.fromThreads.unref();
    this.toThreads.unref();
    const common = {
      filename: join(__dirname, "thread.js"),
      workerData: data,
      idleTimeout: Number.POSITIVE_INFINITY,
      resourceLimits: { maxOldGenerationSizeMb: config.THREAD_MAX_OLD_GENERATION_MB, maxYoungGenerationSizeMb: config.THREAD_MAX_YOUNG_GENERATION_MB },
    };
    this.pools = {
      cpu: new Piscina({ ...common, minThreads: config.CPU_THREADS, maxThreads: config.CPU_THREADS }),
      // Shared threads must keep their event loops running between tasks: no Atomics waits.
      io: new Piscina({
        ...common,
        minThreads: config.IO_THREADS,
        maxThreads: config.IO_THREADS,
        concurrentTasksPerWorker: config.IO_CONCURRENCY_PER_THREAD,
        atomics: "disabled",
      }),
    };
  }

  /**
   * Resolves once every thread has loaded its module. Piscina hands tasks to a thread that is
   * still loading (they wait there), so without this a service would say it is ready while
   * its first jobs wait 100 ms or more for handlers, zod and winston to load.
   */
  whenLoaded(timeoutMs: number): Promise<void> {
    const expected = this.pools.cpu.options.minThreads + this.pools.io.options.minThreads;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onLoaded = null;
        reject(new Error(`worker threads: ${this.loaded.size} of ${expected} loaded within ${timeoutMs} ms`));
      }, timeoutMs);
      this.onLoaded = () => {
        if (this.loaded.size < expected) return;
        clearTimeout(timer);
        this.onLoaded = null;
        resolve();
      };
      this.onLoaded();
    });
  }

  /** How many jobs of this kind can run at once. */
  capacity(kind: HandlerKind): number {
    return this.capacities[kind];
  }

  threadCount(): number {
    return this.pools.cpu.threads.length + this.pools.io.threads.length;
  }

  utilization(kind: HandlerKind): number {
    return this.pools[kind].utilization;
  }

  /**
   * Runs one attempt. Rejects only if its thread died (then replaced). No AbortSignal is given
   * to Piscina: it runs a task that has one alone on its thread, which would leave the io pool
   * one job per thread. A handler that ignores its abort is stopped with terminateThread.
   * `slot` comes from takeSlot and stays the caller's until it calls releaseSlot.
   */
  run(kind: HandlerKind, task: ThreadTask): Promise<ThreadAnswer> {
    if (kind === "cpu") return this.pools.cpu.run(task) as Promise<ThreadAnswer>;
    if (this.ioLaunched.length === 0) queueMicrotask(() => this.sendIoBatches());
    this.ioLaunched.push(task);
    return new Promise((resolve, reject) => this.ioWaiting.set(attemptKey(task.jobId, task.attempt), { resolve, reject }));
  }

  /**
   * One Piscina task per io thread for the jobs launched in a turn (a claim launches up to 128),
   * instead of one per job: Piscina's dispatch and answer were ~15% of the main thread's time in
   * a drain. If a thread dies, each of its batch's jobs that has not ended rejects, as a single
   * task would have.
   */
  private sendIoBatches(): void {
    const tasks = this.ioLaunched;
    this.ioLaunched = [];
    const size = Math.ceil(tasks.length / this.pools.io.options.maxThreads);
    for (let i = 0; i < tasks.length; i += size) {
      const batch = tasks.slice(i, i + size);
      this.pools.io.run({ batch } satisfies ThreadBatch).then(
        () => undefined,
        (error: unknown) => {
          for (const task of batch) this.takeIoWaiter(task.jobId, task.attempt)?.reject(error);
        },
      );
    }
  }

  /** The promise of an io attempt still waiting for its answer, no longer waiting once taken. */
  private takeIoWaiter(jobId: string, attempt: number) {
    const key = attemptKey(jobId, attempt);
    const waiter = this.ioWaiting.get(key);
    this.ioWaiting.delete(key);
    return waiter;
  }

  /** A free slot of this kind, cleared; there is one for every job the pool can run at once. */
  takeSlot(kind: HandlerKind): number {
    const slot = this.freeSlots[kind].pop();
    if (slot === undefined) throw new Error(`no free ${kind} slot: more jobs launched than the pool's capacity`);
    Atomics.store(this.runningOn, slot, 0);
    return slot;
  }

  releaseSlot(kind: HandlerKind, slot: number): void {
    this.freeSlots[kind].push(slot);
  }

  /** The thread running the attempt in `slot`, once it has started there. */
  threadRunning(slot: number): number | null {
    return Atomics.load(this.runningOn, slot) || null;
  }

  /** Terminates a thread (Piscina starts a replacement); every task on it rejects. False if it is already gone. */
  terminateThread(threadId: number): boolean {
    for (const pool of Object.values(this.pools)) {
      const thread = pool.threads.find((t) => t.threadId === threadId);
      if (thread) {
        void thread.terminate();
        return true;
      }
    }
    return false;
  }

  /** Asks the handler of `jobId` to stop, through its ctx.signal. */
  requestAbort(jobId: string, attempt: number, reason: string): void {
    this.toThreads.postMessage({ jobId, attempt, reason } satisfies AbortMessage);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.toThreads.close();
    this.fromThreads.close();
    await Promise.allSettled([this.pools.cpu.destroy(), this.pools.io.destroy()]);
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
