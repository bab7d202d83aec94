import { openEventStream, openSocket, refusedStatus } from "./support/live-clients";
import { startTestService, type TestService } from "./support/test-service";

const KEY = "realtime-auth-test-key";
let t: TestService;
beforeAll(async () => {
  t = await startTestService("realtime-auth", { API_KEYS: KEY });
});
afterAll(async () => {
  await t.stop();
});

describe("with API keys on, live updates, metrics, stats and the dashboard need a key", () => {
  test("without a key: 401 problems for the event stream, /metrics, /stats, /dashboard, and a refused /ws upgrade", async () => {
    const job = (await t.http.post("/jobs").set("authorization", `Bearer ${KEY}`).send({ type: "noop", payload: {} })).body as { id: string };
    for (const path of [`/jobs/${job.id}/events`, "/metrics", "/stats", "/dashboard"]) {
      const res = await t.http.get(path);
      expect([path, res.status, res.headers["content-type"]]).toEqual([path, 401, expect.stringMatching(/^application\/problem\+json/)]);
    }
    const port = t.service.port;
    expect(await refusedStatus(`ws://127.0.0.1:${port}/ws`)).toBe(401);
    expect(await refusedStatus(`ws://127.0.0.1:${port}/ws?api_key=wrong`)).toBe(401);
  });

  test("with the key (header, or ?api_key= where browsers cannot send one): streams, sockets and the page work", async () => {
    const job = (await t.http.post("/jobs").set("authorization", `Bearer ${KEY}`).send({ type: "noop", payload: {} })).body as { id: string };
    const viaHeader = await openEventStream(`${t.baseUrl}/jobs/${job.id}/events`, { authorization: `Bearer ${KEY}` });
    expect(viaHeader.status).toBe(200);
    viaHeader.close();
    const viaQuery = await openEventStream(`${t.baseUrl}/jobs/${job.id}/events?api_key=${KEY}`);
    expect(viaQuery.status).toBe(200);
    viaQuery.close();
    const socket = await openSocket(`ws://127.0.0.1:${t.service.port}/ws?api_key=${KEY}`);
    socket.send({ op: "subscribe", job_ids: [job.id] });
    await socket.next("the answer", (m) => m.event === "subscribed");
    socket.ws.terminate();
    const page = await t.http.get("/dashboard").set("authorization", `Bearer ${KEY}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("<title>taskq dashboard</title>");
    expect((await t.http.get("/metrics").set("authorization", `Bearer ${KEY}`)).status).toBe(200);
  });

  test("the dashboard's script and stylesheet are public: code, no data", async () => {
    expect((await t.http.get("/dashboard/assets/dashboard.js")).status).toBe(200);
    expect((await t.http.get("/dashboard/assets/dashboard.css")).status).toBe(200);
  });
});
