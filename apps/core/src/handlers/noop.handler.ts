import { z } from "zod";
import { defineHandler } from "./handler";

export default defineHandler({
  type: "noop",
  description: "Returns at once; for benchmarks and smoke tests. Accepts any object.",
  kind: "io",
  payload: z.looseObject({}),
  async run() {
    return { ok: true };
  },
});
