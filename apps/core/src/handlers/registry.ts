import { z } from "zod";
import chaos from "./chaos.handler";
import emailProcessing from "./email-processing.handler";
import fail from "./fail.handler";
import hash from "./hash.handler";
import type { JobHandler } from "./handler";
import noop from "./noop.handler";
import sleep from "./sleep.handler";

/** The single list of job types. Adding a type: write one *.handler.ts file and list it here. */
const PRODUCTION_HANDLERS: readonly JobHandler[] = [emailProcessing, noop, sleep, hash, fail];
const TEST_HANDLERS: readonly JobHandler[] = [chaos];

export interface HandlerRegistry {
  /** Every accepted type name, aliases included. */
  readonly types: readonly string[];
  /** The handlers, once each (no aliases). */
  readonly handlers: readonly JobHandler[];
  get(type: string): JobHandler | undefined;
}

export function createRegistry(options: { includeTestHandlers: boolean }): HandlerRegistry {
  const handlers = options.includeTestHandlers ? [...PRODUCTION_HANDLERS, ...TEST_HANDLERS] : PRODUCTION_HANDLERS;
  const byType = new Map<string, JobHandler>();
  for (const handler of handlers) {
    for (const name of [handler.type, ...(handler.aliases ?? [])]) {
      if (byType.has(name)) throw new Error(`Job type ${name} is registered twice`);
      byType.set(name, handler);
    }
  }
  return { types: [...byType.keys()], handlers, get: (type) => byType.get(type) };
}

/** JSON Schema of each type's payload, for GET /job-types and the OpenAPI document. */
export function describeHandlers(registry: HandlerRegistry) {
  return registry.handlers.map((h) => ({
    type: h.type,
    aliases: h.aliases ?? [],
    description: h.description,
    kind: h.kind,
    max_attempts: h.maxAttempts ?? null,
    timeout_ms: h.timeoutMs ?? null,
    payload_schema: z.toJSONSchema(h.payload, { io: "input", unrepresentable: "any" }),
  }));
}
