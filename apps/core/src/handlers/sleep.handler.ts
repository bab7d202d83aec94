import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { defineHandler } from "./handler";

export default defineHandler({
  type: "sleep",
  description: "Waits `ms` milliseconds without blocking its thread.",
  kind: "io",
  payload: z.object({ ms: z.int().min(0).max(3_600_000) }).strict(),
  timeoutMs: 3_700_000,
  async run(payload, ctx) {
    await delay(payload.ms, undefined, { signal: ctx.signal });
    return { slept_ms: payload.ms };
  },
});
