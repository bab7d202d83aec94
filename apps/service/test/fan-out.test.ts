import WebSocket from "ws";
import { openSocket, type SocketClient, updateOf } from "./support/live-clients";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

/**
 * Many clients subscribed to everything, then a batch: the server must not spend its event loop
 * on the fan-out in one go (health probes and requests wait behind it), nor redo per client what
 * is the same for all of them.
 */
const CLIENTS = 40;
const JOBS = 100;

let t: TestService;
const clients: SocketClient[] = [];
beforeAll(async () => {
  t = await startTestService("fan_out", { REALTIME_MAX_ALL_SUBSCRIPTIONS_PER_CLIENT: String(CLIENTS), REALTIME_MAX_CONNECTIONS_PER_CLIENT: String(CLIENTS) });
  for (let i = 0; i < CLIENTS; i++) {
    const client = await openSocket(`ws://127.0.0.1:${t.service.port}/ws`);
    client.send({ op: "subscribe", all: true });
    await client.next("the subscription", (m) => m.event === "subscribed");
    clients.push(client);
  }
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await t.stop();
});

interface Sent {
  data: unknown;
  turn: number;
}

/** Records what the server sends to its WebSocket clients (this process holds both ends) and in which event-loop turn. */
function recordSends(onSend?: (sent: Sent[]) => void): { sent: Sent[]; stop(): void } {
  const sent: Sent[] = [];
  let turn = 0;
  let immediate = setImmediate(function tick() {
    turn++;
    immediate = setImmediate(tick);
  });
  const original = WebSocket.prototype.send;
  const spy = jest.spyOn(WebSocket.prototype, "send").mockImplementation(function (this: WebSocket, ...args: Parameters<WebSocket["send"]>) {
    // Only the server's sockets: the test's clients send their subscriptions on their own.
    if (!clients.some((c) => c.ws === this)) {
      sent.push({ data: args[0], turn });
      onSend?.(sent);
    }
    return Reflect.apply(original, this, args) as void;
  });
  return {
    sent,
    stop() {
      spy.mockRestore();
      clearImmediate(immediate);
    },
  };
}

const submitBatch = async (): Promise<string[]> => {
  const res = await t.http.post("/jobs/batch").send({ jobs: Array.from({ length: JOBS }, () => ({ type: "noop", payload: {}, delay_ms: 3_600_000 })) });
  expect(res.status).toBe(202);
  return (res.body as { jobs: { id: string }[] }).jobs.map((j) => j.id);
};
const allReceived = (ids: string[]) =>
  waitFor(`every client to receive all ${ids.length} jobs`, () => (clients.every((c) => ids.every((id) => c.messages.some((m) => updateOf(m, id)))) ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });

describe("fan-out to many subscribers of everything", () => {
  test("each update is serialised once: every client is sent the same bytes", async () => {
    const recorder = recordSends();
    try {
      const ids = await submitBatch();
      await allReceived(ids);
      const updates = recorder.sent.filter((s) => String(s.data).startsWith('{"event":"job.updated"'));
      expect(updates.length).toBe(CLIENTS * JOBS);
      expect(updates.every((s) => Buffer.isBuffer(s.data))).toBe(true);
      const perMessage = new Map<unknown, number>();
      for (const s of updates) perMessage.set(s.data, (perMessage.get(s.data) ?? 0) + 1);
      expect(perMessage.size).toBe(JOBS);
      expect([...new Set(perMessage.values())]).toEqual([CLIENTS]);
    } finally {
      recorder.stop();
    }
  });

  test("the fan-out of one batch is spread over several event-loop turns, so other work runs in between", async () => {
    const recorder = recordSends();
    try {
      const ids = await submitBatch();
      await allReceived(ids);
      const turns = new Set(recorder.sent.map((s) => s.turn));
      expect(turns.size).toBeGreaterThan(1);
    } finally {
      recorder.stop();
    }
  });

  test("updates of a job that arrive while its last state is still being sent reach each client once more, in its latest state", async () => {
    let first: string | undefined;
    // While the batch's fan-out is under way, one of its jobs is updated again, several times, at
    // several points of the fan-out.
    const recorder = recordSends((sent) => {
      if (sent.length > CLIENTS * JOBS || sent.length % 500 !== 1) return;
      first ??= (JSON.parse(String(sent[sent.length - 1]!.data)) as { job: { id: string } }).job.id;
      t.service.events.emit("job:updated", first);
    });
    try {
      const ids = await submitBatch();
      await allReceived(ids);
      expect(first).toBeDefined();
      const again = (c: SocketClient) => c.messages.filter((m) => updateOf(m, first)).length;
      await waitFor("every client to receive that job a second time", () => (clients.every((c) => again(c) >= 2) ? true : undefined), { timeoutMs: 30_000 });
      // Once a later submission has reached everyone, nothing more about that job is on its way.
      const marker = (await t.http.post("/jobs").send({ type: "noop", payload: {}, delay_ms: 3_600_000 })).body as { id: string };
      await allReceived([marker.id]);
      expect(clients.map(again)).toEqual(clients.map(() => 2));
    } finally {
      recorder.stop();
    }
  });
});
