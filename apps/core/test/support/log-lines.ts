import { PassThrough } from "node:stream";
import winston from "winston";
import type { Logger } from "../../src/logger";

export type LogLine = Record<string, unknown>;

/**
 * Replaces the transports of a JSON logger (createLogger, pretty: false) by one that keeps its
 * lines, parsed and in order, in the returned array: tests read them instead of the console.
 */
export function keepLogLines(logger: Logger): LogLine[] {
  const lines: LogLine[] = [];
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => {
    for (const text of chunk.toString().split("\n")) if (text) lines.push(JSON.parse(text) as LogLine);
  });
  logger.clear().add(new winston.transports.Stream({ stream: sink }));
  return lines;
}
