import { createLogger } from "../src/logger";
import { keepLogLines, type LogLine } from "./support/log-lines";

/** The production (JSON) logger, writing its lines to `lines` instead of the console. */
function jsonLogger(): { logger: ReturnType<typeof createLogger>; lines: LogLine[] } {
  const logger = createLogger({ level: "info", pretty: false });
  return { logger, lines: keepLogLines(logger) };
}

describe("logged errors", () => {
  test("an Error in a line's fields keeps its name, message, stack, own fields and cause (JSON alone writes {})", () => {
    const { logger, lines } = jsonLogger();
    const cause = new Error("connection reset");
    const error = Object.assign(new TypeError("could not store the job", { cause }), { code: "E_STORE" });
    logger.child({ jobId: "j-1" }).error("recording failed", { error });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "error",
      message: "recording failed",
      jobId: "j-1",
      error: {
        name: "TypeError",
        message: "could not store the job",
        code: "E_STORE",
        stack: expect.stringContaining("could not store the job"),
        cause: { name: "Error", message: "connection reset", stack: expect.stringContaining("connection reset") },
      },
    });
  });

  test("a chain of causes is cut after three, and plain objects in fields are written as they are", () => {
    const { logger, lines } = jsonLogger();
    let error = new Error("level 0");
    for (let i = 1; i <= 5; i++) error = new Error(`level ${i}`, { cause: error });
    logger.warn("deep", { error, job: { name: "TimeoutError", message: "too slow" } });
    const described = lines[0]!.error as { cause: { cause: { cause: { cause: unknown } } } };
    expect(described.cause.cause.cause.cause).toBe("Error: level 1");
    expect(lines[0]!.job).toEqual({ name: "TimeoutError", message: "too slow" });
  });
});
