import request from "supertest";
import { loadConfig } from "../../../core/src/config";
import type { JobResource, JobStatus } from "../../../core/src/jobs/job";
import { createLogger } from "../../../core/src/logger";
import { type Service, startService } from "../../src/service";
import { checkAnswersOf, settingsOf } from "./contract-capture";
import { contractFor, takeContractViolations } from "./openapi-contract";
import { createTestDatabase, type TestDatabase } from "../../../../testing/test-database";
import { TEST_ENV } from "../../../../testing/test-env";
import { waitFor } from "../../../../testing/wait";

export interface TestService {
  service: Service;
  db: TestDatabase;
  /** supertest against the real listening server. */
  http: ReturnType<typeof request>;
  baseUrl: string;
  stop(): Promise<void>;
  submit(body: unknown): Promise<JobResource>;
  get(id: string): Promise<JobResource>;
  waitForJob(id: string, until: JobStatus | ((job: JobResource) => boolean), timeoutMs?: number): Promise<JobResource>;
}

/** Starts a real service (HTTP server, store, dispatcher, threads) on its own database. */
export async function startTestService(name: string, env: Record<string, string> = {}, db?: TestDatabase): Promise<TestService> {
  const database = db ?? (await createTestDatabase(name));
  const config = loadConfig({ ...TEST_ENV, WORKER_ID: `test-${name}`, DATABASE_URL: database.url, ...env });
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: true, defaultMeta: { test: name } });
  const service = await startService(config, logger);
  const baseUrl = `http://127.0.0.1:${service.port}`;
  const stopChecking = checkAnswersOf(service.server, baseUrl, contractFor(settingsOf(config)));
  const http = request(baseUrl);
  const get = async (id: string) => {
    const res = await http.get(`/jobs/${id}`);
    if (res.status !== 200) throw new Error(`GET /jobs/${id} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as JobResource;
  };
  return {
    service,
    db: database,
    http,
    baseUrl,
    get,
    async stop() {
      await service.stop();
      stopChecking();
      if (!db) await database.drop();
      // Answers given after the last test's end (in afterAll) are reported here.
      const late = await takeContractViolations();
      if (late.length > 0) throw new Error(`answers that break the OpenAPI document:\n${late.join("\n")}`);
    },
    async submit(body) {
      const res = await http.post("/jobs").send(body as object);
      if (res.status !== 202) throw new Error(`POST /jobs → ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as JobResource;
    },
    waitForJob(id, until, timeoutMs = 15_000) {
      const done = typeof until === "function" ? until : (j: JobResource) => j.status === until;
      return waitFor(`job ${id} to reach ${typeof until === "string" ? until : "the expected state"}`, async () => {
        const job = await get(id);
        return done(job) ? job : undefined;
      }, { timeoutMs });
    },
  };
}
