import { loadConfig } from "../../../core/src/config";
import { createLogger } from "../../../core/src/logger";
import { keepLogLines, type LogLine } from "../../../core/test/support/log-lines";
import { type Service, startService } from "../../src/service";
import { checkAnswersOf, settingsOf } from "./contract-capture";
import { contractFor } from "./openapi-contract";
import type { TestDatabase } from "../../../../testing/test-database";
import { TEST_ENV } from "../../../../testing/test-env";

/**
 * A real service (TEST_ENV, then `env`) whose log lines at LOG_LEVEL (default info) are kept as
 * parsed JSON, in order, instead of printed.
 */
export async function startServiceKeepingLogs(db: TestDatabase, env: Record<string, string> & { WORKER_ID: string }): Promise<{ service: Service; lines: LogLine[] }> {
  const level = env.LOG_LEVEL ?? "info";
  const config = loadConfig({ ...TEST_ENV, DATABASE_URL: db.url, ...env, LOG_LEVEL: level });
  const logger = createLogger({ level, pretty: false });
  const lines = keepLogLines(logger);
  const service = await startService(config, logger);
  checkAnswersOf(service.server, `http://127.0.0.1:${service.port}`, contractFor(settingsOf(config)));
  return { service, lines };
}
