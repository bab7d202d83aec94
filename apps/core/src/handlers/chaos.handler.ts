import { appendFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { defineHandler, UnrecoverableError } from "./handler";

/**
 * Misbehaves on purpose, to prove that one bad handler fails only its own job. Registered only
 * when ENABLE_TEST_HANDLERS=true (tests, chaos runs); never in a default deployment.
 */
export default defineHandler({
  type: "chaos",
  description:
    "Test only: spins, exits its thread, throws outside its promise, leaks memory, ignores aborts, returns a BigInt, succeeds on attempt N, waits for N jobs to share its thread, or records each execution (CHAOS_EXECUTION_LOG).",
  kind: "io",
  payload: z
    .object({
      mode: z.enum(["spin", "exit", "uncaught", "oom", "succeed_on_attempt", "ignore_abort", "bigint_result", "record", "barrier"]),
      attempt: z.int().min(1).max(100).optional(),
      parties: z.int().min(1).max(1_000).optional(),
      ms: z.int().min(0).max(600_000).optional(),
    })
    .strict(),
  async run(payload, ctx) {
    switch (payload.mode) {
      case "spin":
        for (;;);
      case "exit":
        return process.exit(3);
      case "uncaught":
        setImmediate(() => {
          throw new Error("thrown outside the handler's promise");
        });
        return delay(60_000, undefined, { signal: ctx.signal });
      case "oom": {
        const hoard: number[][] = [];
        for (;;) hoard.push(new Array(1_000_000).fill(hoard.length));
      }
      case "ignore_abort":
        await delay(payload.ms ?? 60_000);
        return { ignored_abort: true };
      case "bigint_result":
        return { n: 10n };
      case "succeed_on_attempt":
        if (ctx.attempt < (payload.attempt ?? 3)) throw new Error(`attempt ${ctx.attempt} fails on purpose`);
        return { succeeded_on_attempt: ctx.attempt };
      case "barrier":
        // Returns once `parties` barrier jobs are running in this thread at the same time.
        await barrier(payload.parties ?? 2, ctx.signal);
        return { met: payload.parties ?? 2 };
      case "record":
        // The "side effect" whose repetitions the chaos script counts, halfway through `ms` of
        // work as in a real handler: one O_APPEND write of a whole line per execution, so
        // concurrent threads never interleave within a line and a process killed mid-write
        // leaves at most a final line without its newline.
        // Lines are "<job id> <pid>", so a test can also tell which process ran it.
        if (!ctx.settings.chaosExecutionLog) throw new UnrecoverableError("mode record needs CHAOS_EXECUTION_LOG");
        await delay((payload.ms ?? 0) / 2, undefined, { signal: ctx.signal });
        appendFileSync(ctx.settings.chaosExecutionLog, `${ctx.jobId} ${process.pid}\n`);
        await delay((payload.ms ?? 0) / 2, undefined, { signal: ctx.signal });
        return { recorded: true };
    }
  },
});

const waiting = new Map<number, (() => void)[]>();

function barrier(parties: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const group = waiting.get(parties) ?? [];
    group.push(resolve);
    waiting.set(parties, group);
    if (group.length === parties) {
      waiting.delete(parties);
      for (const release of group) release();
    }
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
