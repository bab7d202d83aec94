import { randomUUID } from "node:crypto";
import type { JobStore, NewJob } from "../../core/src/store/job-store";
import { migrate } from "../../core/src/store/migrate";
import { sqliteStatements } from "../../core/src/store/sqlite/statements";
import { nowMs } from "../../core/src/time";
import { openStore } from "../../../testing/open-store";
import { createTestDatabase, type TestDatabase, testDialect } from "../../../testing/test-database";

let db: TestDatabase;
let store: JobStore;
beforeAll(async () => {
  db = await createTestDatabase("claim_order");
  await migrate(db.url, { busyTimeoutMs: 5_000 });
  store = await openStore(db.url);
});
afterAll(async () => {
  await store.close();
  await db.drop();
});

const base = nowMs() - 60_000;
function job(type: string, priority: number, ageMs: number): NewJob {
  return { id: randomUUID(), type, payload: "{}", maxAttempts: 1, priority, timeoutMs: 1_000, runAt: base - ageMs, createdAt: base - ageMs, idempotencyKey: null, requestHash: null };
}
const claim = (types: string[], limit: number) => store.claimBatch({ owner: "claim-order-test", types, limit, leaseMs: 30_000 });

describe("claimBatch reads one index range per type", () => {
  test("across several types it takes the best jobs by priority, then oldest first; other types and future jobs stay PENDING", async () => {
    const urgentSleep = job("sleep", 5, 0);
    const oldNoop = job("noop", 0, 3_000);
    const oldEmail = job("email_processing", 0, 2_000);
    const newNoop = job("noop", 0, 1_000);
    const hash = job("hash", 9, 9_000);
    const later = { ...job("noop", 9, 0), runAt: nowMs() + 3_600_000 };
    await store.enqueue([newNoop, hash, oldEmail, later, urgentSleep, oldNoop]);

    const claimed = await claim(["noop", "sleep", "email_processing"], 3);
    expect(claimed.map((j) => j.id)).toEqual([urgentSleep.id, oldNoop.id, oldEmail.id]);
    expect((await claim(["noop", "sleep", "email_processing"], 10)).map((j) => j.id)).toEqual([newNoop.id]);
    expect((await store.get(hash.id))?.status).toBe("PENDING");
    expect((await store.get(later.id))?.status).toBe("PENDING");
  });

  test("a claim for a type with no ready work returns nothing", async () => {
    expect(await claim(["fail"], 5)).toEqual([]);
  });
});

const describeSqlite = testDialect === "sqlite" ? describe : describe.skip;

describeSqlite("the plans of the hot statements (SQLite)", () => {
  /** EXPLAIN QUERY PLAN of a Statements entry, on the writer's connection, with its $n placeholders bound to null. */
  async function plan(text: string): Promise<string[]> {
    const args = Array.from({ length: Math.max(...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]))) }, () => null);
    return (await store.db.writer!.run<{ detail: string }[]>(`EXPLAIN QUERY PLAN ${text}`, args)).map((r) => r.detail);
  }

  test("the claim reads one range of jobs_claim_idx per type and never scans the table", async () => {
    const steps = await plan(sqliteStatements.claimBatch(3));
    expect(steps.filter((s) => s === "SEARCH jobs USING INDEX jobs_claim_idx (status=? AND type=?)")).toHaveLength(3);
    expect(steps.filter((s) => /^SCAN jobs\b/.test(s))).toEqual([]);
  });
});
