import { openSocket, refusedStatus } from "./support/live-clients";
import { startTestService, type TestService } from "./support/test-service";

/**
 * The Origin check without a browser (cross-site.browser.test.ts drives a real one): requests
 * that change state and WebSocket handshakes are refused when a browser says they come from
 * another origin; same-origin pages, listed origins and clients that send no Origin at all
 * (curl, SDKs, the CLI) pass.
 */
const ALLOWED = "https://ops.example.com";
const started: TestService[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
});
const start = async (name: string, env: Record<string, string> = {}) => {
  const s = await startTestService(name, { ROLE: "api", ALLOWED_ORIGINS: `${ALLOWED}, http://localhost:5173`, ...env });
  started.push(s);
  return s;
};

describe("the Origin check", () => {
  let t: TestService;
  let self: string;
  let ws: string;
  beforeAll(async () => {
    t = await start("origin_check");
    self = `http://127.0.0.1:${t.service.port}`;
    ws = `ws://127.0.0.1:${t.service.port}/ws`;
  });
  const job = async () => (await t.http.post("/jobs").send({ type: "noop", payload: {}, delay_ms: 3_600_000 })).body as { id: string };

  test.each([
    ["another site", "https://evil.example"],
    ["another port of the same host", "http://127.0.0.1:1"],
    ["another scheme of a listed origin", "http://ops.example.com"],
    ["an opaque origin (sandboxed frame, file:// page)", "null"],
  ])("from %s: state changes are a 403 problem and change nothing; the WebSocket handshake is refused with 403", async (_what, origin) => {
    const { id } = await job();
    for (const res of [
      await t.http.post(`/jobs/${id}/cancel`).set("Origin", origin),
      await t.http.post("/jobs").set("Origin", origin).send({ type: "noop" }),
      await t.http.delete(`/jobs/${id}`).set("Origin", origin),
      await t.http.post(`/jobs/${id}/retry`).set("Origin", origin),
    ]) {
      expect(res.status).toBe(403);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: "urn:taskq:problem:cross-origin-request", status: 403 });
    }
    expect((await t.http.get(`/jobs/${id}`)).body.status).toBe("PENDING");
    expect(await refusedStatus(ws, { origin })).toBe(403);
  });

  test.each([
    ["the service's own origin", () => self],
    ["a listed origin", () => ALLOWED],
    ["the other listed origin", () => "http://localhost:5173"],
  ])("from %s: requests and the WebSocket are accepted", async (_what, origin) => {
    const { id } = await job();
    expect((await t.http.post(`/jobs/${id}/cancel`).set("Origin", origin())).status).toBe(200);
    const socket = await openSocket(ws, { origin: origin() });
    socket.ws.terminate();
  });

  test("without an Origin header (curl, SDKs, workers) everything works as before", async () => {
    const { id } = await job();
    expect((await t.http.post(`/jobs/${id}/cancel`)).status).toBe(200);
    const socket = await openSocket(ws);
    socket.ws.terminate();
  });

  test("reads from another origin are left to the browser's same-origin policy (no CORS headers are sent)", async () => {
    const res = await t.http.get("/jobs").set("Origin", "https://evil.example");
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("behind a trusted proxy", () => {
  test("the service's own origin is the one the proxy received (X-Forwarded-Host, X-Forwarded-Proto)", async () => {
    const t = await start("origin_proxy", { TRUST_PROXY_HOPS: "1" });
    const { id } = (await t.http.post("/jobs").send({ type: "noop", payload: {}, delay_ms: 3_600_000 })).body as { id: string };
    const viaProxy = { "X-Forwarded-Host": "queue.example.com", "X-Forwarded-Proto": "https" };
    expect((await t.http.post(`/jobs/${id}/retry`).set(viaProxy).set("Origin", "https://evil.example")).status).toBe(403);
    expect((await t.http.post(`/jobs/${id}/cancel`).set(viaProxy).set("Origin", "https://queue.example.com")).status).toBe(200);
    expect(await refusedStatus(`ws://127.0.0.1:${t.service.port}/ws`, { ...viaProxy, origin: "https://evil.example" })).toBe(403);
    (await openSocket(`ws://127.0.0.1:${t.service.port}/ws`, { ...viaProxy, origin: "https://queue.example.com" })).ws.terminate();
  });
});
