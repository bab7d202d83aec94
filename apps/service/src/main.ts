import { ConfigError, loadConfig } from "../../core/src/config";
import { defaultLogger, startService } from "./service";

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
      () => process.exit(0),
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
