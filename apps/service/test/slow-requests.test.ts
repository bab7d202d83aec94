import { connect, type Socket } from "node:net";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

/**
 * A client that sends its request a byte at a time holds a socket (and its buffers) for as long
 * as it likes unless the server sets deadlines: HTTP_HEADERS_TIMEOUT_MS for the headers,
 * HTTP_REQUEST_TIMEOUT_MS for the whole request.
 */
const KEY = "slow-requests-key-0001";
const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
/** Generous for a loaded machine, far below Node's own defaults (60 s for headers, 300 s for a request). */
const CLOSED_WITHIN_MS = 20_000;

let t: TestService;
beforeAll(async () => {
  t = await startTestService("slow_requests", { API_KEYS: KEY, HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
});
afterAll(async () => {
  await t.stop();
});

/** A raw connection that writes `head` at once, then one byte of `dribble` every 100 ms; it records what it receives and when it is closed. */
async function slowClient(head: string, dribble: string): Promise<{ received: () => string; closed: () => boolean; socket: Socket }> {
  const socket = connect(t.service.port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let received = "";
  let closed = false;
  socket.on("data", (chunk) => (received += chunk.toString()));
  socket.on("error", () => undefined);
  socket.on("close", () => {
    closed = true;
    clearInterval(dribbler);
  });
  socket.write(head);
  let next = 0;
  const dribbler = setInterval(() => {
    if (!socket.writable) return;
    socket.write(dribble[next % dribble.length]!);
    next++;
  }, 100);
  return { received: () => received, closed: () => closed, socket };
}

describe("slow requests are cut off", () => {
  test("headers sent a byte at a time: the connection is closed once HTTP_HEADERS_TIMEOUT_MS has passed", async () => {
    const client = await slowClient("GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n", "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    const opened = Date.now();
    await waitFor("the server to close the connection", () => (client.closed() ? true : undefined), { timeoutMs: CLOSED_WITHIN_MS, intervalMs: 50 });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    client.socket.destroy();
  });

  test("a body sent a byte at a time after a good key: closed once HTTP_REQUEST_TIMEOUT_MS has passed, nothing stored", async () => {
    const before = await t.service.store.db.prisma.job.count();
    const head = `POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"type":"noop","payload":{"pad":"`;
    const client = await slowClient(head, "x");
    await waitFor("the server to close the connection", () => (client.closed() ? true : undefined), { timeoutMs: CLOSED_WITHIN_MS, intervalMs: 50 });
    expect(client.received()).not.toMatch(/^HTTP\/1\.1 202/);
    expect(await t.service.store.db.prisma.job.count()).toBe(before);
    client.socket.destroy();
  });

  test("a body sent a byte at a time after its 401: the connection does not outlive HTTP_REQUEST_TIMEOUT_MS either", async () => {
    const head = `POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"type":"noop","payload":{"pad":"`;
    const client = await slowClient(head, "x");
    await waitFor("the 401", () => (client.received().startsWith("HTTP/1.1 401") ? true : undefined), { timeoutMs: CLOSED_WITHIN_MS });
    await waitFor("the server to close the connection", () => (client.closed() ? true : undefined), { timeoutMs: CLOSED_WITHIN_MS, intervalMs: 50 });
    client.socket.destroy();
  });
});
