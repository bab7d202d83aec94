import { tmpdir } from "node:os";
import request from "supertest";
import { projectRoot } from "../../core/src/paths";
import type { LogLine } from "../../core/test/support/log-lines";
import type { Service } from "../src/service";
import { startServiceKeepingLogs } from "./support/logged-service";
import { createTestDatabase, type TestDatabase } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";

/**
 * Requests that are the client's mistake, however odd, get a 4xx problem: never a 5xx, never an
 * error-level log line (those page someone), and never a file path in the answer or the log.
 */
let db: TestDatabase;
let service: Service;
let lines: LogLine[];
let http: ReturnType<typeof request>;
beforeAll(async () => {
  db = await createTestDatabase("client_mistakes");
  // At http level every request also writes its access line, which must hold no path either.
  ({ service, lines } = await startServiceKeepingLogs(db, { LOG_LEVEL: "http", WORKER_ID: "test-client-mistakes", BODY_LIMIT_BYTES: String(4 * 1_048_576) }));
  http = request(`http://127.0.0.1:${service.port}`);
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

/** 200,000 levels of arrays inside a payload object: 400 kB of JSON that JSON.parse still reads. */
const deeplyNested = (levels: number) => `{"type":"noop","payload":{"a":${"[".repeat(levels)}${"]".repeat(levels)}}}`;

interface Mistake {
  what: string;
  send: () => request.Test;
  status: number;
  field?: string;
}

const MISTAKES: Mistake[] = [
  { what: "a dashboard asset that does not exist", send: () => http.get("/dashboard/assets/nope.js"), status: 404 },
  { what: "a path traversal out of the dashboard's assets", send: () => http.get("/dashboard/assets/%2e%2e/index.html"), status: 404 },
  { what: "a traversal with encoded slashes", send: () => http.get("/dashboard/assets/..%2F..%2F..%2Fpackage.json"), status: 404 },
  { what: "a malformed percent-encoding in a job id", send: () => http.get("/jobs/%ZZ"), status: 400 },
  { what: "a malformed percent-encoding in a cancel", send: () => http.post("/jobs/%E0%A4%A/cancel"), status: 400 },
  {
    what: "a payload nested 200,000 levels with an Idempotency-Key",
    send: () => http.post("/jobs").set("Content-Type", "application/json").set("Idempotency-Key", "deep-1").send(deeplyNested(200_000)),
    status: 400,
    field: "payload",
  },
  {
    what: "a batch whose job is nested 200,000 levels, with an Idempotency-Key",
    send: () => http.post("/jobs/batch").set("Content-Type", "application/json").set("Idempotency-Key", "deep-2").send(`{"jobs":[${deeplyNested(200_000)}]}`),
    status: 400,
    field: "jobs.0.payload",
  },
  { what: "a NUL byte in the type filter", send: () => http.get("/jobs?type=%00"), status: 400, field: "query.type" },
  { what: "a control character inside the type filter", send: () => http.get("/jobs?type=no%01op"), status: 400, field: "query.type" },
];

describe("client mistakes are 4xx problems, not server errors", () => {
  test.each(MISTAKES.map((m) => [m.what, m] as const))("%s", async (_what, m) => {
    const seen = lines.length;
    const res = await m.send();
    expect({ status: res.status, type: res.headers["content-type"] }).toEqual({ status: m.status, type: expect.stringMatching(/^application\/problem\+json/) });
    expect(res.body).toMatchObject({ status: m.status, type: expect.stringMatching(/^urn:taskq:problem:/) });
    expect(res.body.title).not.toMatch(/body could not be read/i);
    if (m.field !== undefined) expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(m.field);
    // The access line is written once the answer is sent: wait for it, then read everything logged.
    const id = res.headers["x-request-id"] as string;
    const logged = await waitFor(`the access line of ${id}`, () => (lines.slice(seen).some((l) => l.message === "request" && l.requestId === id) ? lines.slice(seen) : undefined));
    expect(logged.filter((l) => l.level === "error")).toEqual([]);
    for (const text of [res.text, ...logged.map((l) => JSON.stringify(l))]) {
      expect(text).not.toContain(projectRoot());
      expect(text).not.toContain(tmpdir());
      expect(text).not.toMatch(/node_modules|\bat .+:\d+:\d+|URIError|RangeError/);
    }
  });
});
