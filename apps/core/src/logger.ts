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
  const logger = winston.createLogger({
    level: options.level,
    format,
    defaultMeta: options.defaultMeta,
    transports: [new winston.transports.Console()],
  });
  skipDisabledLevels(logger);
  return logger;
}

/**
 * winston formats every line (timestamp, JSON) and streams it to the transport before the
 * transport drops the lines below its level: 7% of the main thread while draining noop jobs
 * at LOG_LEVEL=warn went to `job:done` lines nobody sees (--cpu-prof). A disabled level now
 * returns at once. Child loggers inherit these methods through their prototype.
 */
function skipDisabledLevels(logger: Logger): void {
  const methods = logger as unknown as Record<string, (...args: unknown[]) => Logger>;
  for (const level of Object.keys(winston.config.npm.levels)) {
    const write = methods[level]!;
    methods[level] = function (this: Logger, ...args: unknown[]) {
      return this.isLevelEnabled(level) ? write.apply(this, args) : this;
    };
  }
}
