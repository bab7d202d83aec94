import { ask, openEventStream, openSocket, refusedStatus, type SocketClient } from "./support/live-clients";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

/**
 * One client must not be able to stall the service by opening live connections or subscribing
 * to everything many times over: per key (per client address when keys are off), open
 * WebSocket + SSE connections and `all` subscriptions are limited.
 */
const KEY = "realtime-limits-key-0001";
const OTHER_KEY = "realtime-limits-key-0002";
const MAX_CONNECTIONS = 3;
const MAX_ALL = 2;
const limits = { REALTIME_MAX_CONNECTIONS_PER_CLIENT: String(MAX_CONNECTIONS), REALTIME_MAX_ALL_SUBSCRIPTIONS_PER_CLIENT: String(MAX_ALL) };

const started: TestService[] = [];
const open: SocketClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.ws.terminate();
});
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
});
const start = async (name: string, env: Record<string, string>) => {
  const s = await startTestService(name, { ...limits, ...env });
  started.push(s);
  return s;
};
const connect = async (url: string, headers: Record<string, string> = {}) => {
  const client = await openSocket(url, headers);
  open.push(client);
  return client;
};
const openConnections = async (t: TestService) => {
  const text = (await t.http.get("/metrics").set("authorization", `Bearer ${KEY}`)).text;
  return [...text.matchAll(/^taskq_realtime_connections\{transport="\w+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
};

describe("with API keys: limits per key", () => {
  let t: TestService;
  let ws: string;
  beforeAll(async () => {
    t = await start("realtime_limits_keys", { API_KEYS: `${KEY},${OTHER_KEY}` });
    ws = `ws://127.0.0.1:${t.service.port}/ws?api_key=`;
  });

  test("WebSocket and SSE connections share REALTIME_MAX_CONNECTIONS_PER_CLIENT; the next is a 429; closing one frees its place; another key has its own", async () => {
    const job = (await t.http.post("/jobs").set("authorization", `Bearer ${KEY}`).send({ type: "noop", payload: {}, delay_ms: 3_600_000 })).body as { id: string };
    const sockets = [await connect(ws + KEY), await connect(ws + KEY)];
    const stream = await openEventStream(`${t.baseUrl}/jobs/${job.id}/events`, { authorization: `Bearer ${KEY}` });
    expect(stream.status).toBe(200);

    expect(await refusedStatus(ws + KEY)).toBe(429);
    const refusedStream = await openEventStream(`${t.baseUrl}/jobs/${job.id}/events`, { authorization: `Bearer ${KEY}` });
    expect(refusedStream.status).toBe(429);
    expect(refusedStream.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(refusedStream.headers.get("retry-after")).toMatch(/^\d+$/);

    // The other key is not affected by the first one's connections.
    const other = await connect(ws + OTHER_KEY);
    other.ws.terminate();

    stream.close();
    await waitFor("the stream's place to be given back", async () => ((await openConnections(t)) <= MAX_CONNECTIONS - 1 ? true : undefined));
    await connect(ws + KEY);
    sockets[0]!.ws.terminate();
  });

  test("subscribing to everything more than REALTIME_MAX_ALL_SUBSCRIPTIONS_PER_CLIENT times is refused with a 429 error message; the connection stays; unsubscribing frees a place", async () => {
    await waitFor("earlier connections to be closed", async () => ((await openConnections(t)) === 0 ? true : undefined));
    const [a, b, c] = [await connect(ws + KEY), await connect(ws + KEY), await connect(ws + KEY)];
    expect(await ask(a!, { op: "subscribe", all: true })).toMatchObject({ event: "subscribed", subscriptions: { all: true } });
    // A second all-subscription on the same connection is the same subscription: it takes no second place.
    expect(await ask(a!, { op: "subscribe", all: true })).toMatchObject({ event: "subscribed" });
    expect(await ask(b!, { op: "subscribe", all: true })).toMatchObject({ event: "subscribed" });
    const refused = await ask(c!, { op: "subscribe", all: true });
    expect(refused).toMatchObject({ event: "error", error: { status: 429, type: "urn:taskq:problem:too-many-subscriptions" } });
    // Subscriptions by type or id are not limited by this.
    expect(await ask(c!, { op: "subscribe", types: ["noop"] })).toMatchObject({ event: "subscribed" });
    expect(await ask(a!, { op: "unsubscribe", all: true })).toMatchObject({ event: "unsubscribed" });
    expect(await ask(c!, { op: "subscribe", all: true })).toMatchObject({ event: "subscribed", subscriptions: { all: true } });
    // A connection that closes gives its all-subscription back.
    b!.ws.terminate();
    await waitFor("the closed connection's subscription to be given back", async () => ((await ask(a!, { op: "subscribe", all: true })).event === "subscribed" ? true : undefined));
  });
});

describe("without API keys: limits per client address", () => {
  test("the connections of one address are limited", async () => {
    const t = await start("realtime_limits_open", {});
    const ws = `ws://127.0.0.1:${t.service.port}/ws`;
    for (let i = 0; i < MAX_CONNECTIONS; i++) await connect(ws);
    expect(await refusedStatus(ws)).toBe(429);
  });
});
