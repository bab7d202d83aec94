import request from "supertest";
import type { LogLine } from "../../core/test/support/log-lines";
import type { Service } from "../src/service";
import { openEventStream, openSocket, refusedStatus } from "./support/live-clients";
import { startServiceKeepingLogs } from "./support/logged-service";
import { startTestService, type TestService } from "./support/test-service";
import { createTestDatabase, type TestDatabase } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";

/**
 * A key in a URL ends up in browser history, proxy logs and Referer headers. It is accepted only
 * where a browser cannot send a header (the WebSocket and the event stream), is exchanged for a
 * session cookie by the pages a person opens (dashboard, API docs), and is never written to a
 * log or echoed in an answer, however its parameter name is spelled.
 */
const KEY = "url-keys-test-key-0001";
const OTHER_KEY = "url-keys-test-key-0002";
const UUID = "00000000-0000-4000-8000-000000000000";

let db: TestDatabase;
let service: Service;
let lines: LogLine[];
let http: ReturnType<typeof request>;
let baseUrl: string;
beforeAll(async () => {
  db = await createTestDatabase("api_keys_in_urls");
  ({ service, lines } = await startServiceKeepingLogs(db, { LOG_LEVEL: "http", WORKER_ID: "test-url-keys", API_KEYS: `${KEY},${OTHER_KEY}` }));
  baseUrl = `http://127.0.0.1:${service.port}`;
  http = request(baseUrl);
});
afterAll(async () => {
  await service?.stop();
  await db?.drop();
});

const bearer = { authorization: `Bearer ${KEY}` };
const submit = async () => (await http.post("/jobs").set(bearer).send({ type: "noop", payload: {} })).body as { id: string };
/** Set-Cookie's `name=value`, ready for a Cookie header. */
const cookieOf = (res: request.Response) => String((res.headers["set-cookie"] as unknown as string[] | undefined)?.[0] ?? "").split(";")[0]!;

describe("a key in the URL", () => {
  test.each([
    ["GET /jobs", () => http.get(`/jobs?api_key=${KEY}`)],
    ["GET /jobs/{id}", () => http.get(`/jobs/${UUID}?api_key=${KEY}`)],
    ["POST /jobs", () => http.post(`/jobs?api_key=${KEY}`).send({ type: "noop", payload: {} })],
    ["POST /jobs/batch", () => http.post(`/jobs/batch?api_key=${KEY}`).send({ jobs: [{ type: "noop" }] })],
    ["POST /jobs/{id}/cancel", () => http.post(`/jobs/${UUID}/cancel?api_key=${KEY}`)],
    ["DELETE /jobs/{id}", () => http.delete(`/jobs/${UUID}?api_key=${KEY}`)],
    ["GET /stats", () => http.get(`/stats?api_key=${KEY}`)],
    ["GET /metrics", () => http.get(`/metrics?api_key=${KEY}`)],
    ["GET /openapi.json", () => http.get(`/openapi.json?api_key=${KEY}`)],
    ["GET /job-types", () => http.get(`/job-types?api_key=${KEY}`)],
  ])("is not accepted on %s (401, nothing stored)", async (_route, send) => {
    const before = await service.store.db.prisma.job.count();
    const res = await send();
    expect(res.status).toBe(401);
    expect(res.text).not.toContain(KEY);
    expect(await service.store.db.prisma.job.count()).toBe(before);
  });

  test("is accepted on the event stream and the WebSocket, where browsers cannot send a header", async () => {
    const job = await submit();
    const stream = await openEventStream(`${baseUrl}/jobs/${job.id}/events?api_key=${KEY}`);
    expect(stream.status).toBe(200);
    stream.close();
    const socket = await openSocket(`ws://127.0.0.1:${service.port}/ws?api_key=${KEY}`);
    socket.send({ op: "subscribe", job_ids: [job.id] });
    await socket.next("the answer", (m) => m.event === "subscribed");
    socket.ws.terminate();
  });

  test.each([
    ["plain", "api_key"],
    ["percent-encoded", "api%5Fkey"],
    ["fully percent-encoded", "%61%70%69%5F%6B%65%79"],
    ["in capitals", "API_KEY"],
  ])("spelled %s, is never written to the access log nor echoed in a problem", async (_how, name) => {
    const seen = lines.length;
    const answers = [
      await http.get(`/jobs/${UUID}/events?${name}=${KEY}`),
      await http.get(`/jobs?${name}=${KEY}`).set(bearer),
      await http.get(`/jobs/nope?${name}=${KEY}`).set(bearer),
      await http.post(`/jobs?${name}=${KEY}`).set(bearer).send({ type: "nope" }),
    ];
    expect(answers.map((res) => res.status)).toEqual([name === "API_KEY" ? 401 : 404, 400, 400, 400]);
    const ids = answers.map((res) => res.headers["x-request-id"] as string);
    await waitFor("the access lines", () => (ids.every((id) => lines.some((l) => l.message === "request" && l.requestId === id)) ? true : undefined));
    const logged = lines.slice(seen).map((l) => JSON.stringify(l));
    expect(logged.filter((l) => l.includes("[redacted]")).length).toBeGreaterThanOrEqual(answers.length);
    const texts = answers.map((res) => res.text);
    for (const text of [...texts, ...logged]) expect(text).not.toContain(KEY);
  });
});

describe("the dashboard's session", () => {
  test("/dashboard?api_key= sets a signed HttpOnly SameSite=Strict cookie and redirects to the URL without the key", async () => {
    const res = await http.get(`/dashboard?api_key=${KEY}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/dashboard");
    const setCookie = (res.headers["set-cookie"] as unknown as string[])[0]!;
    expect(setCookie).toMatch(/^taskq_session=[^;]+; Max-Age=\d+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(KEY);
    expect(res.text).not.toContain(KEY);
  });

  test("the cookie opens the page, the API, the API docs and the WebSocket", async () => {
    const cookie = cookieOf(await http.get(`/dashboard?api_key=${KEY}`));
    const page = await http.get("/dashboard").set("cookie", cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain("<title>taskq dashboard</title>");
    expect((await http.get("/jobs").set("cookie", cookie)).status).toBe(200);
    expect((await http.get("/stats").set("cookie", cookie)).status).toBe(200);
    expect((await http.get("/docs/").set("cookie", cookie)).status).toBe(200);
    expect((await http.get("/docs/swagger-ui-init.js").set("cookie", cookie)).status).toBe(200);
    const socket = await openSocket(`ws://127.0.0.1:${service.port}/ws`, { cookie });
    socket.send({ op: "subscribe", all: true });
    await socket.next("the answer", (m) => m.event === "subscribed");
    socket.ws.terminate();
  });

  test("/docs?api_key= is exchanged the same way", async () => {
    const res = await http.get(`/docs?api_key=${KEY}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/docs/");
    expect((await http.get("/docs/").set("cookie", cookieOf(res))).status).toBe(200);
  });

  test("a wrong key gets no cookie; a forged or altered cookie is refused everywhere", async () => {
    const wrong = await http.get("/dashboard?api_key=not-a-key-of-this-server");
    expect(wrong.status).toBe(401);
    expect(wrong.headers["set-cookie"]).toBeUndefined();
    const cookie = cookieOf(await http.get(`/dashboard?api_key=${KEY}`));
    const value = cookie.slice(cookie.indexOf("=") + 1);
    const flipped = `taskq_session=${value.slice(0, -1)}${value.endsWith("A") ? "B" : "A"}`;
    for (const forged of [flipped, "taskq_session=", `taskq_session=${KEY}`, `taskq_session=v1.${"x".repeat(40)}`]) {
      expect((await http.get("/jobs").set("cookie", forged)).status).toBe(401);
      expect((await http.get("/dashboard").set("cookie", forged)).status).toBe(401);
      expect(await refusedStatus(`ws://127.0.0.1:${service.port}/ws`, { cookie: forged })).toBe(401);
    }
    // A stale cookie does not hide a good key where the URL may carry one.
    (await openSocket(`ws://127.0.0.1:${service.port}/ws?api_key=${KEY}`, { cookie: flipped })).ws.terminate();
  });
});

describe("sessions across processes", () => {
  const SECRET = "a-session-secret-shared-by-every-api-process";
  const started: TestService[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });
  const api = async (name: string, env: Record<string, string>) => {
    const s = await startTestService(name, { ROLE: "api", ...env });
    started.push(s);
    return s;
  };

  test("with one SESSION_SECRET a cookie works on every API process that has its key, and on none that lacks it", async () => {
    const first = await api("session_a", { API_KEYS: KEY, SESSION_SECRET: SECRET });
    const second = await api("session_b", { API_KEYS: `${OTHER_KEY},${KEY}`, SESSION_SECRET: SECRET });
    const keyRemoved = await api("session_c", { API_KEYS: OTHER_KEY, SESSION_SECRET: SECRET });
    const cookie = cookieOf(await first.http.get(`/dashboard?api_key=${KEY}`));
    expect((await first.http.get("/jobs").set("cookie", cookie)).status).toBe(200);
    expect((await second.http.get("/jobs").set("cookie", cookie)).status).toBe(200);
    expect((await keyRemoved.http.get("/jobs").set("cookie", cookie)).status).toBe(401);
  });

  test("a session ends after SESSION_TTL_MS", async () => {
    const shortLived = await api("session_ttl", { API_KEYS: KEY, SESSION_TTL_MS: "1000" });
    const res = await shortLived.http.get(`/dashboard?api_key=${KEY}`);
    expect(String((res.headers["set-cookie"] as unknown as string[])[0])).toMatch(/Max-Age=1;/);
    const cookie = cookieOf(res);
    await waitFor("the session to expire", async () => ((await shortLived.http.get("/jobs").set("cookie", cookie)).status === 401 ? true : undefined), { timeoutMs: 20_000, intervalMs: 100 });
  });
});
