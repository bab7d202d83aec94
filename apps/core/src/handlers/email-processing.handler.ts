import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { defineHandler, UnrecoverableError } from "./handler";

/** The original project's example job: validate the address, then simulate the heavy work. */
export default defineHandler({
  type: "email_processing",
  description: "Validates an e-mail address and simulates sending a message (EMAIL_DELAY_MS).",
  kind: "io",
  payload: z
    .object({
      email: z.email(),
      subject: z.string().min(1).max(998),
      body: z.string().max(100_000).optional(),
    })
    .strict(),
  async run(payload, ctx) {
    const domain = payload.email.split("@")[1] ?? "";
    if (domain.endsWith(".invalid")) throw new UnrecoverableError(`Domain ${domain} cannot receive mail`);
    ctx.progress(10);
    await delay(ctx.settings.emailDelayMs, undefined, { signal: ctx.signal });
    ctx.progress(100);
    return {
      delivered_to: payload.email,
      subject: payload.subject,
      body_bytes: Buffer.byteLength(payload.body ?? ""),
      message: `Processed e-mail to ${payload.email}`,
    };
  },
});
