import winston from "winston";

export type Logger = winston.Logger;

/**
 * JSON lines in production; a readable single line elsewhere. Callers derive child loggers
 * carrying { requestId } or { jobId, type, attempt, workerId } so every line can be traced.
 */
export function createLogger(options: { level: string; pretty: boolean; defaultMeta?: Record<string, unknown> }): Logger {
  const format = options.pretty
    ? winston.format.combine(
        winston.format.timestamp({ format: "HH:mm:ss.SSS" }),
        winston.format.errors({ stack: true }),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...meta }) => {
          const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : "";
          return `${String(timestamp)} ${level} ${String(message)}${rest}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json());
  return winston.createLogger({
    level: options.level,
    format,
    defaultMeta: options.defaultMeta,
    transports: [new winston.transports.Console()],
  });
}
