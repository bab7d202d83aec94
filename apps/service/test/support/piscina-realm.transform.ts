import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/**
 * A jest transform for one file, piscina/dist/index.js. jest runs each test file in a vm
 * context with its own `Object`, while messages from worker threads are built in Node's main
 * realm. Piscina recognises a new thread's "ready" message with `message instanceof Object`,
 * which is false across realms: under jest a thread that replaces a terminated or crashed one
 * would never be used. Outside jest there is one realm and no problem.
 *
 * Only that check is rewritten, to what it means there ("is an object"); every other
 * `instanceof Object`, in the tests and in the code they run, keeps the language's meaning. If
 * Piscina changes the line, the transform fails rather than letting the tests run unpatched.
 */
const CHECK = "message instanceof Object && common_1.READY in message";
const SAME_REALM_FREE = "typeof message === 'object' && message !== null && common_1.READY in message";

const transformer = {
  process(source: string, path: string): { code: string } {
    if (!source.includes(CHECK)) throw new Error(`${path} no longer contains \`${CHECK}\`: see ${__filename}`);
    return { code: source.replace(CHECK, SAME_REALM_FREE) };
  },
  /** The file and this transform: a cached result never outlives a change to either. */
  getCacheKey(source: string): string {
    return createHash("sha256").update(source).update(readFileSync(__filename)).digest("hex");
  },
};

export = transformer;
