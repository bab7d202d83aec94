import type { LogLine } from "../../core/test/support/log-lines";
import type { Service } from "../src/service";
import { type PostgresServer, startPostgresServer } from "../../../testing/postgres-server";
import { createTestDatabase, type TestDatabase, testDialect } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";
import { holdJobsWriteLock } from "./support/jobs-write-lock";
import { startServiceKeepingLogs } from "./support/logged-service";
import { sampleSum } from "./support/prometheus-text";

/**
 * The database stops answering for a while, and comes back: PostgreSQL is shut down (a server
 * of this test's own: the shared one serves every other test file), or SQLite's write lock is
 * held by another connection for longer than SQLITE_BUSY_TIMEOUT_MS. Through it, the service
 * refuses submissions with a 503 and stores nothing, says it is not ready, keeps trying to claim
 * in one loop that backs off, and logs the outage by its changes of state and a count, not a
 * line per refused request or per try. Afterwards it works again without a restart.
 */
const POLL_INTERVAL_MS = 1_000;

interface Outage {
  begin(): Promise<void>;
  end(): Promise<void>;
}

let server: PostgresServer | null = null;
let db: TestDatabase;
let outage: Outage;
let service: Service;
let lines: LogLine[];

beforeAll(async () => {
  if (testDialect === "postgresql") {
    const own = await startPostgresServer();
    server = own;
    db = { url: own.url({ schema: "outage" }), drop: async () => undefined };
    outage = { begin: () => own.stop("fast"), end: () => own.start() };
  } else {
    db = await createTestDatabase("outage");
    let lock: { release(): Promise<void> } | null = null;
    outage = {
      begin: async () => {
        lock = await holdJobsWriteLock(db.url);
      },
      end: async () => lock?.release(),
    };
  }
  ({ service, lines } = await startServiceKeepingLogs(db, { WORKER_ID: "outage", POLL_INTERVAL_MS: String(POLL_INTERVAL_MS), SQLITE_BUSY_TIMEOUT_MS: "100" }));
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await db?.drop();
  await server?.destroy();
}, 60_000);

const base = () => `http://127.0.0.1:${service.port}`;
const submit = () => fetch(`${base()}/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "noop", payload: {} }) });
const ready = async () => (await fetch(`${base()}/readyz`)).status;
const failedClaims = async () => sampleSum(await (await fetch(`${base()}/metrics`)).text(), "taskq_claims_total", { result: "failed" });
const logged = (message: string) => lines.filter((l) => l.message === message);

describe(`the database unreachable for a while (${testDialect === "postgresql" ? "PostgreSQL shut down" : "SQLite's write lock held elsewhere"})`, () => {
  test("submissions get a 503 and readiness fails; claims retry in one loop with backoff; the log tells the outage once, counts it, and tells its end; work resumes without a restart", async () => {
    expect((await submit()).status).toBe(202);
    const claimsFailedBefore = await failedClaims();
    await outage.begin();
    const downAt = Date.now();
    let claimsFailed: number;
    let outageS: number;
    try {
      for (let i = 0; i < 10; i++) {
        const res = await submit();
        expect({ status: res.status, retryAfter: res.headers.get("retry-after"), type: ((await res.json()) as { type: string }).type }).toEqual({
          status: 503,
          retryAfter: "1",
          type: "urn:taskq:problem:storage-unavailable",
        });
      }
      expect(await ready()).toBe(503);
      // Long enough for the log's count of the failures while the outage lasts.
      await waitFor("the outage's count in the log", () => logged("storage still failing")[0], { timeoutMs: 60_000, intervalMs: 100 });
      claimsFailed = (await failedClaims()) - claimsFailedBefore;
      outageS = (Date.now() - downAt) / 1_000;
    } finally {
      await outage.end();
    }

    const job = await waitFor("a submission to be accepted again", async () => {
      const res = await submit();
      return res.status === 202 ? ((await res.json()) as { id: string }) : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await waitFor("it to run", async () => (((await (await fetch(`${base()}/jobs/${job.id}`)).json()) as { status: string }).status === "DONE" ? true : undefined), { timeoutMs: 30_000 });
    await waitFor("the service to be ready again", async () => ((await ready()) === 200 ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
    await waitFor("the end of the outage in the log", () => logged("storage working again")[0], { timeoutMs: 30_000 });

    // One loop: 0.1, 0.2, 0.4 and 0.8 s apart, then once per POLL_INTERVAL_MS; never a loop per wake-up.
    expect(claimsFailed).toBeGreaterThanOrEqual(3);
    expect(claimsFailed).toBeLessThanOrEqual(outageS / (POLL_INTERVAL_MS / 1_000) + 5);
    expect(logged("claims failing; retrying with backoff until one succeeds")).toHaveLength(1);
    expect(logged("claims working again")).toEqual([expect.objectContaining({ level: "info", failedTries: expect.any(Number) })]);
    expect(logged("claims working again")[0]!.failedTries).toBeGreaterThanOrEqual(claimsFailed);
    // The refusals: the first with its error, a count, the end; none logged on its own.
    expect(logged("storage failing: the database refused or could not be reached; counting failures until it works again")).toEqual([
      expect.objectContaining({ level: "error", error: expect.objectContaining({ name: "StorageUnavailableError" }) }),
    ]);
    expect(logged("storage still failing")[0]).toMatchObject({ level: "warn", failures: expect.any(Number) });
    expect(logged("storage working again")).toHaveLength(1);
    expect(logged("request failed")).toEqual([]);
  }, 180_000);
});
