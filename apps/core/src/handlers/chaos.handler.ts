import { appendFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { defineHandler, UnrecoverableError } from "./handler";

/**
 * Misbehaves on purpose, to prove that one bad handler fails only its own job. Registered only
 * when ENABLE_TEST_HANDLERS=true (tests, chaos runs); never in a default deployment.
 */
export default defineHandler({
  type: "chaos",
  description: "Test only: spins, exits its thread, throws outside its promise, leaks memory, ignores aborts, returns a BigInt, succeeds on attempt N, or records each execution (after `ms`) in CHAOS_EXECUTION_LOG.",
  kind: "io",
  payload: z
    .object({
      mode: z.enum(["spin", "exit", "uncaught", "oom", "succeed_on_attempt", "ignore_abort", "bigint_result", "record"]),
      attempt: z.int().min(1).max(100).optional(),
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
      case "record": {
        const log = ctx.settings.chaosExecutionLog;
        if (!log) throw new UnrecoverableError("mode record needs CHAOS_EXECUTION_LOG");
        if (payload.ms) await delay(payload.ms, undefined, { signal: ctx.signal });
        // One short O_APPEND write per execution: lines from every thread and process stay whole.
        await appendFile(log, `${ctx.jobId} ${process.pid}\n`);
        return { recorded: true };
      }
      case "succeed_on_attempt":
        if (ctx.attempt < (payload.attempt ?? 3)) throw new Error(`attempt ${ctx.attempt} fails on purpose`);
        return { succeeded_on_attempt: ctx.attempt };
    }
  },
});
