import { createHash } from "node:crypto";
import { z } from "zod";
import { defineHandler } from "./handler";

/** Yielding and checking the signal every this many rounds (about 10 ms) keeps both cheap and cancellation prompt. */
const ROUNDS_PER_CHECK = 10_000;

export default defineHandler({
  type: "hash",
  description: "CPU-bound: iterated SHA-256 of `data`; returns the hex digest.",
  kind: "cpu",
  payload: z
    .object({
      data: z.string().max(1_000_000),
      iterations: z.int().min(1).max(2 ** 31 - 1).default(100_000),
    })
    .strict(),
  timeoutMs: 3_600_000,
  async run(payload, ctx) {
    let digest: Buffer = Buffer.from(payload.data, "utf8");
    for (let i = 0; i < payload.iterations; i++) {
      if (i % ROUNDS_PER_CHECK === 0) {
        // Yield to the thread's event loop: an abort arrives as a message, which a loop that
        // never yields would only see after it ended (and the thread would be terminated).
        if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        ctx.signal.throwIfAborted();
        if (i > 0) ctx.progress(Math.floor((i / payload.iterations) * 100));
      }
      digest = createHash("sha256").update(digest).digest();
    }
    return { digest: digest.toString("hex"), iterations: payload.iterations };
  },
});
