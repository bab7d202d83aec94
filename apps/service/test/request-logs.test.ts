import request from "supertest";
import { serviceUrl } from "../src/service";
import { startServiceKeepingLogs } from "./support/logged-service";
import { createTestDatabase, type TestDatabase } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";

/** A real service whose log lines (at `level`) are kept as parsed JSON. */
const serviceLoggingAt = (level: string, db: TestDatabase) => startServiceKeepingLogs(db, { LOG_LEVEL: level, WORKER_ID: `test-logs-${level}` });

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("request_logs");
});
afterAll(async () => {
  await db.drop();
});

describe("the start-up line", () => {
  test("names the URL to open: the bound host and port, a wildcard host as loopback", async () => {
    const { service, lines } = await serviceLoggingAt("info", db);
    try {
      expect(lines.find((l) => l.message === "service started")).toMatchObject({ url: `http://127.0.0.1:${service.port}` });
    } finally {
      await service.stop();
    }
    expect([serviceUrl("0.0.0.0", 8000), serviceUrl("::", 8000), serviceUrl("::1", 8000), serviceUrl("jobs.internal", 80)]).toEqual([
      "http://127.0.0.1:8000",
      "http://[::1]:8000",
      "http://[::1]:8000",
      "http://jobs.internal:80",
    ]);
  });
});

describe("request ids in the logs", () => {
  test("at LOG_LEVEL=http each request's access line carries its id: the caller's X-Request-Id, or the one the response names", async () => {
    const { service, lines } = await serviceLoggingAt("http", db);
    try {
      const http = request(`http://127.0.0.1:${service.port}`);
      const given = await http.post("/jobs").set("X-Request-Id", "client-id.42").send({ type: "noop" });
      const minted = await http.post("/jobs").send({ type: "noop" });
      expect(given.status).toBe(202);
      expect(given.headers["x-request-id"]).toBe("client-id.42");
      const mintedId = minted.headers["x-request-id"] as string;
      expect(mintedId).toMatch(/^[0-9a-f-]{36}$/);
      const accessLine = (id: string) => waitFor(`the access line of ${id}`, () => lines.find((l) => l.message === "request" && l.requestId === id));
      expect(await accessLine("client-id.42")).toMatchObject({ level: "http", method: "POST", path: "/jobs", status: 202 });
      expect(await accessLine(mintedId)).toMatchObject({ level: "http", method: "POST", path: "/jobs", status: 202 });
    } finally {
      await service.stop();
    }
  });

  test("at the default level there is no access line, and a failing request's warning still carries its id", async () => {
    const { service, lines } = await serviceLoggingAt("info", db);
    try {
      const http = request(`http://127.0.0.1:${service.port}`);
      const ok = await http.post("/jobs").send({ type: "noop" });
      const bad = await http.post("/jobs").set("Content-Type", "application/json").set("Content-Encoding", "gzip").send('{"type":"noop"}');
      expect(ok.status).toBe(202);
      expect(bad.status).toBe(400);
      const id = (bad.body as { request_id: string }).request_id;
      expect(bad.headers["x-request-id"]).toBe(id);
      expect(await waitFor("the unreadable body's warning", () => lines.find((l) => l.message === "unreadable request body"))).toMatchObject({ level: "warn", requestId: id });
      expect(lines.filter((l) => l.message === "request")).toEqual([]);
    } finally {
      await service.stop();
    }
  });
});
