import { z } from "zod";
import { defineHandler, UnrecoverableError } from "./handler";

export default defineHandler({
  type: "fail",
  // The original project called this type error_test; its clients keep working.
  aliases: ["error_test"],
  description: "Always throws; `retryable: false` fails at once without further attempts.",
  // It always fails: retrying is pointless unless a client asks for it with max_attempts.
  maxAttempts: 1,
  kind: "io",
  payload: z
    .object({
      message: z.string().max(10_000).optional(),
      retryable: z.boolean().optional(),
    })
    .strict(),
  async run(payload) {
    const message = payload.message ?? "Simulated failure";
    if (payload.retryable === false) throw new UnrecoverableError(message);
    throw new Error(message);
  },
});
