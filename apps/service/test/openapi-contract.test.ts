import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { openApiDocument } from "../../api/src/openapi";
import { TaskqClient, ApiError } from "../../client/src/taskq-client";
import { createRegistry } from "../../core/src/handlers/registry";
import { parseEventStream } from "../../client/src/event-stream";
import { checkAnswersOf, settingsOf } from "./support/contract-capture";
import { type Answer, contractFor, takeContractViolations } from "./support/openapi-contract";
import { fuzzAgainstDocument } from "./support/openapi-fuzz";
import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  t = await startTestService("openapi_contract");
});
afterAll(async () => {
  await t.stop();
});

const contract = () => contractFor(settingsOf(t.service.config));
const JOB_ID = "0199a3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d";

describe("the served document", () => {
  test("is the one made from the service's job types and key setting", async () => {
    const served = await t.http.get("/openapi.json");
    expect(served.body).toEqual(JSON.parse(JSON.stringify(openApiDocument({ registry: createRegistry({ includeTestHandlers: true }), apiKeys: false }))));
  });

  test("gives every operation an operationId, and each job type its own request schema", async () => {
    const doc = (await t.http.get("/openapi.json")).body;
    const operations = Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((item) => Object.values(item));
    expect(operations.every((op) => typeof op.operationId === "string")).toBe(true);
    expect(new Set(operations.map((op) => op.operationId)).size).toBe(operations.length);
    const email = doc.components.schemas["SubmitJob.email_processing"];
    expect(email.required).toEqual(expect.arrayContaining(["type", "payload"]));
    expect(email.properties.payload.required).toEqual(["email", "subject"]);
    expect(doc.paths["/jobs"].post.requestBody.required).toBe(true);
  });
});

describe("405 for a method a known path does not serve", () => {
  test.each([
    ["PUT", "/jobs", "GET, HEAD, POST"],
    ["GET", "/jobs/batch", "POST"],
    ["DELETE", "/jobs/batch", "POST"],
    ["PATCH", `/jobs/${JOB_ID}`, "GET, HEAD, DELETE"],
    ["DELETE", `/jobs/${JOB_ID}/cancel`, "POST"],
    ["POST", "/stats/", "GET, HEAD"],
  ])("%s %s answers 405 with Allow: %s", async (method, path, allow) => {
    const res = await fetch(`${t.baseUrl}${path}`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe(allow);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  test("an unknown path is still a 404, and a plain GET /ws a 426 naming the upgrade", async () => {
    expect((await fetch(`${t.baseUrl}/nowhere`, { method: "PUT" })).status).toBe(404);
    const ws = await fetch(`${t.baseUrl}/ws`);
    expect(ws.status).toBe(426);
    expect(ws.headers.get("upgrade")).toBe("websocket");
  });
});

describe("an answer that drifts from the document fails the test that provoked it", () => {
  const job = () => ({
    id: JOB_ID,
    type: "noop",
    status: "DONE",
    payload: {},
    result: { ok: true },
    error: null,
    error_history: [],
    progress: null,
    attempts: 1,
    max_attempts: 3,
    priority: 0,
    timeout_ms: 1000,
    cancel_requested: false,
    run_at: "2026-01-01T00:00:00.000Z",
    created_at: "2026-01-01T00:00:00.000Z",
    started_at: "2026-01-01T00:00:00.000Z",
    finished_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  });
  const answer = (overrides: Partial<Answer> & { json?: unknown }): Answer => ({
    method: "GET",
    url: `/jobs/${JOB_ID}`,
    status: 200,
    headers: { "content-type": "application/json; charset=utf-8", "x-request-id": "r1", etag: 'W/"1"' },
    body: Buffer.from(JSON.stringify(overrides.json ?? job())),
    complete: true,
    ...overrides,
  });

  test("a faithful answer passes", async () => {
    contract().check(answer({}));
    expect(await takeContractViolations()).toEqual([]);
  });

  test.each<[string, Partial<Answer> & { json?: unknown }, RegExp]>([
    ["a status outside the schema's enum", { json: { ...job(), status: "WAITING" } }, /\/status must be equal to one of the allowed values/],
    ["a field the schema does not have", { json: { ...job(), colour: "blue" } }, /must NOT have additional properties/],
    ["an undocumented status", { status: 418 }, /status 418 is not documented/],
    ["an undocumented media type", { headers: { "content-type": "text/html", "x-request-id": "r1", etag: 'W/"1"' } }, /media type text\/html is not documented/],
    ["a missing required header", { method: "POST", url: "/jobs", status: 202, headers: { "content-type": "application/json", "x-request-id": "r1" } }, /header Location is missing/],
    ["a 503 whose problem has no title", { status: 503, headers: { "content-type": "application/problem+json", "x-request-id": "r1", "retry-after": "1" }, json: { type: "urn:x", status: 503 } }, /must have required property 'title'/],
    ["a body on a 204", { method: "DELETE", status: 204, headers: { "content-type": "application/json", "x-request-id": "r1" } }, /a body .* where the document says none/],
    ["another method on a documented path that is not a 405", { method: "PUT", url: "/jobs", status: 200 }, /not 405/],
  ])("%s", async (_what, overrides, expected) => {
    contract().check(answer(overrides));
    const found = await takeContractViolations();
    expect(found.join("\n")).toMatch(expected);
  });

  test("an event of a stream whose job does not fit the document", async () => {
    const events = `retry: 2000\n\nid: 1\nevent: job.updated\ndata: ${JSON.stringify({ ...job(), attempts: "one" })}\n\n`;
    contract().check(answer({ url: `/jobs/${JOB_ID}/events`, headers: { "content-type": "text/event-stream; charset=utf-8", "x-request-id": "r1" }, body: Buffer.from(events) }));
    expect((await takeContractViolations()).join("\n")).toMatch(/event data: \/attempts must be integer/);
  });

  test("a WebSocket message that does not fit the document", async () => {
    contract().checkMessage("WebSocketServerMessage", { event: "job.updated", job: { id: JOB_ID } }, "a test");
    expect((await takeContractViolations()).join("\n")).toMatch(/a WebSocketServerMessage that does not fit the document/);
  });

  test("answers are taken where a server writes them: a drifted server is caught, whatever the client", async () => {
    const drifted = await listen((req, res) => {
      // A job route that forgot a field and writes through res.end, as the service's POST answers do.
      const { attempts: _attempts, ...rest } = job();
      res.writeHead(200, { "content-type": "application/json", "x-request-id": "r1", etag: 'W/"1"' }).end(JSON.stringify(rest));
      void req;
    });
    const stop = checkAnswersOf(drifted.server, drifted.url, contract());
    try {
      expect((await fetch(`${drifted.url}/jobs/${JOB_ID}`)).status).toBe(200);
      expect((await takeContractViolations()).join("\n")).toMatch(/GET \/jobs\/\S+ → 200: .*must have required property 'attempts'/);
    } finally {
      stop();
      await new Promise((resolve) => drifted.server.close(resolve));
    }
  });

  test("the fuzzer finds a service that accepts what the document refuses", async () => {
    const lax = await listen((_req, res) => {
      res.writeHead(202, { "content-type": "application/json", "x-request-id": "r1", location: `/jobs/${JOB_ID}` }).end(JSON.stringify(job()));
    });
    try {
      await expect(fuzzAgainstDocument({ baseUrl: lax.url, contract: contract(), runsPerOperation: 5 })).rejects.toThrow(/not documented|accepted|breaks the document/);
    } finally {
      await new Promise((resolve) => lax.server.close(resolve));
      await takeContractViolations();
    }
  });
});

describe("the client generated from the document", () => {
  test("submits, reads, lists and follows a job, and turns a problem into ApiError", async () => {
    const client = new TaskqClient({ baseUrl: t.baseUrl });
    const job = await client.submit({ type: "hash", payload: { data: "contract", iterations: 30_000 } });
    expect((await client.get(job.id)).id).toBe(job.id);
    expect((await client.list({ type: "hash", limit: 5 })).items.map((j) => j.id)).toContain(job.id);
    const states: string[] = [];
    const final = await client.follow(job.id, (state) => states.push(state.status));
    expect(final).toMatchObject({ status: "DONE", progress: 100 });
    expect(states.at(-1)).toBe("DONE");
    const refused = await client.submit({ type: "email_processing", payload: { email: "nope", subject: "x" } }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).problem?.errors?.map((e) => e.field)).toEqual(["payload.email"]);
  });

  test("its raw calls carry the document's types: the events stream parses as JobUpdatedEvent", async () => {
    const client = new TaskqClient({ baseUrl: t.baseUrl });
    const job = await client.submit({ type: "noop" });
    await t.waitForJob(job.id, "DONE");
    const { data, response } = await client.api.GET("/jobs/{id}/events", { params: { path: { id: job.id } }, parseAs: "stream" });
    expect(response.status).toBe(200);
    const events = [];
    for await (const event of parseEventStream(data!)) events.push(event);
    expect(events.at(-1)).toMatchObject({ event: "job.updated" });
  });
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
