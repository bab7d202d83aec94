import type { Config } from "../../core/src/config";

/**
 * Delay before attempt `attempt + 1`: base × factor^(attempt − 1), capped, with "equal jitter"
 * (half fixed, half random) so that jobs failing together do not retry together.
 */
export function backoffMs(attempt: number, config: Pick<Config, "RETRY_BASE_MS" | "RETRY_FACTOR" | "RETRY_MAX_MS">, random = Math.random): number {
  const exponential = config.RETRY_BASE_MS * config.RETRY_FACTOR ** Math.max(0, attempt - 1);
  const capped = Math.min(config.RETRY_MAX_MS, exponential);
  return capped / 2 + random() * (capped / 2);
}

/** How many attempt errors a job keeps, newest last. */
export const ERROR_HISTORY_LENGTH = 10;
