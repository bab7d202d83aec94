import { ConfigError, loadConfig } from "../../core/src/config";
import { defaultLogger, startService } from "./service";

/**
 * After a clean stop nothing of the service is left running, so the process ends by itself.
 * Anything still open this long after is a leak (a timer, a connection): it is named in the log
 * and the process exits 1, so that a supervisor and the tests see it.
 */
const EXIT_BY_ITSELF_MS = 5_000;

/** Process entry for every role (ROLE=all|api|worker). A second signal forces the exit. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = defaultLogger(config);
  const service = await startService(config, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    logger.info("signal received: shutting down", { signal });
    service.stop().then(
      () => {
        process.exitCode = 0;
        const leak = setTimeout(() => {
          logger.error("the process did not exit by itself after stopping; something was left open", { resources: process.getActiveResourcesInfo() });
          process.exit(1);
        }, EXIT_BY_ITSELF_MS);
        leak.unref();
      },
      (error: unknown) => {
        logger.error("shutdown failed", { error });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  void service.stoppedByFault.then(() => process.exit(1));
}

main().catch((error: unknown) => {
  process.stderr.write(`taskq failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
