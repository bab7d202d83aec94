/** Settings that keep tests quick: short delays and backoffs; test handlers on; quiet logs. */
export const TEST_ENV: Record<string, string> = {
  NODE_ENV: "test",
  HOST: "127.0.0.1",
  PORT: "0",
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
  ENABLE_TEST_HANDLERS: "true",
  EMAIL_DELAY_MS: "5",
  RETRY_BASE_MS: "10",
  RETRY_MAX_MS: "50",
  POLL_INTERVAL_MS: "100",
  CPU_THREADS: "2",
  IO_THREADS: "1",
  ABORT_GRACE_MS: "300",
  SHUTDOWN_GRACE_MS: "2000",
};
