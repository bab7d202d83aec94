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
        errorFields(),
        winston.format.colorize(),
        winston.format.printf(({ timestamp, level, message, ...meta }) => {
          const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : "";
          return `${String(timestamp)} ${level} ${String(message)}${rest}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), errorFields(), winston.format.json());
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
 * An Error passed as a field (`log.error("…", { error })`, as everywhere here) written as its
 * name, message, stack, own fields (a code…) and cause: its own properties are not enumerable,
 * so JSON would write `"error":{}` and the line would say nothing of what went wrong.
 */
const errorFields = winston.format((info) => {
  for (const [key, value] of Object.entries(info)) if (value instanceof Error) info[key] = describeError(value);
  return info;
});

const CAUSES_KEPT = 3;

function describeError(error: Error, causes = 0): Record<string, unknown> {
  const described: Record<string, unknown> = { ...error, name: error.name, message: error.message, stack: error.stack };
  if (error.cause === undefined) delete described.cause;
  else if (causes >= CAUSES_KEPT) described.cause = String(error.cause);
  else described.cause = error.cause instanceof Error ? describeError(error.cause, causes + 1) : error.cause;
  return described;
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
