import type { JobResource } from "../../core/src/jobs/job";
import { ask, openSocket, refusedStatus, type SocketClient, updateOf } from "./support/live-clients";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

let t: TestService;
let wsUrl: string;
const open: SocketClient[] = [];
beforeAll(async () => {
  t = await startTestService("websocket", { WS_MAX_BUFFERED_BYTES: "1024" });
  wsUrl = `ws://127.0.0.1:${t.service.port}/ws`;
});
afterEach(() => {
  for (const c of open.splice(0)) c.ws.terminate();
});
afterAll(async () => {
  await t.stop();
});

async function connect(): Promise<SocketClient> {
  const client = await openSocket(wsUrl);
  open.push(client);
  return client;
}

describe("WebSocket /ws", () => {
  test("subscribing to a job id: the answer lists the subscription, then the job's current state, then its updates to DONE", async () => {
    const client = await connect();
    const job = await t.submit({ type: "sleep", payload: { ms: 100 }, delay_ms: 200 });
    const answer = await ask(client, { op: "subscribe", job_ids: [job.id] });
    expect(answer).toMatchObject({ event: "subscribed", subscriptions: { job_ids: [job.id], types: [], all: false } });
    const first = await client.next<Record<string, unknown>>("the snapshot", (m) => updateOf(m, job.id) !== undefined);
    expect(updateOf(first, job.id)).toMatchObject({ id: job.id, type: "sleep", payload: { ms: 100 } });
    const done = await client.next("DONE", (m) => updateOf(m, job.id)?.status === "DONE");
    expect(updateOf(done)).toEqual(await t.get(job.id));
  });

  test("subscribing to a type delivers that type only; subscribing to everything shows new submissions", async () => {
    const byType = await connect();
    const everything = await connect();
    await ask(byType, { op: "subscribe", types: ["noop"] });
    await ask(everything, { op: "subscribe", all: true });
    const sleep = await t.submit({ type: "sleep", payload: { ms: 1 } });
    await t.waitForJob(sleep.id, "DONE");
    const noop = await t.submit({ type: "noop", payload: {} });
    await byType.next("the noop job DONE", (m) => updateOf(m, noop.id)?.status === "DONE");
    expect(byType.messages.filter((m) => updateOf(m)?.type === "sleep")).toEqual([]);
    await everything.next("the sleep job", (m) => updateOf(m, sleep.id) !== undefined);
    await everything.next("the noop job DONE", (m) => updateOf(m, noop.id)?.status === "DONE");
    // A job that waits is seen as soon as it is stored (updates in one turn share a read, so a
    // job that runs at once may first show up RUNNING or DONE).
    const later = await t.submit({ type: "noop", payload: {}, delay_ms: 60_000 });
    await everything.next("the scheduled job's submission", (m) => updateOf(m, later.id)?.status === "PENDING");
    expect((await t.http.post(`/jobs/${later.id}/cancel`)).status).toBe(200);
    await everything.next("the scheduled job's cancel", (m) => updateOf(m, later.id)?.status === "CANCELLED");
  });

  test("a long hash job's progress reaches a subscriber while it runs", async () => {
    const client = await connect();
    const job = await t.submit({ type: "hash", payload: { data: "ws-progress", iterations: 50_000_000 } });
    await ask(client, { op: "subscribe", job_ids: [job.id] });
    await client.next("progress > 0 while RUNNING", (m) => {
      const j = updateOf(m, job.id);
      return j?.status === "RUNNING" && typeof j.progress === "number" && j.progress > 0;
    });
    expect((await t.http.post(`/jobs/${job.id}/cancel`)).status).toBe(202);
    await client.next("CANCELLED", (m) => updateOf(m, job.id)?.status === "CANCELLED");
  });

  test("unsubscribe stops the updates", async () => {
    const client = await connect();
    await ask(client, { op: "subscribe", all: true });
    const answer = await ask(client, { op: "unsubscribe", all: true });
    expect(answer).toMatchObject({ event: "unsubscribed", subscriptions: { all: false } });
    const quiet = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(quiet.id, "DONE");
    // The feed reads in order: once a later job's snapshot arrives, nothing about `quiet` is still on its way.
    const marker = await t.submit({ type: "noop", payload: {} });
    await ask(client, { op: "subscribe", job_ids: [marker.id] });
    await client.next("the marker's snapshot", (m) => updateOf(m, marker.id) !== undefined);
    expect(client.messages.filter((m) => updateOf(m, quiet.id))).toEqual([]);
  });

  test("a malformed message gets an error message naming the problem, and the connection stays usable", async () => {
    const client = await connect();
    client.send("{not json");
    const notJson = await client.next("an error", (m) => m.event === "error");
    expect(notJson).toMatchObject({ error: { status: 400, title: "Malformed message" } });
    const badId = await ask(client, { op: "subscribe", job_ids: ["nope"] });
    expect(badId).toMatchObject({ event: "error", error: { errors: [{ field: "job_ids.0", message: "must be a UUID" }] } });
    const badOp = await ask(client, { op: "shout" });
    expect(badOp).toMatchObject({ event: "error", error: { errors: [expect.objectContaining({ field: "op" })] } });
    const empty = await ask(client, { op: "subscribe" });
    expect(empty).toMatchObject({ event: "error", error: { errors: [{ field: "op", message: "give job_ids, types or all: true" }] } });
    const unknownType = await ask(client, { op: "subscribe", types: ["noop", "teleport"] });
    expect(unknownType).toMatchObject({ event: "error", error: { errors: [{ field: "types.1", message: 'unknown job type "teleport"' }] } });
    const ok = await ask(client, { op: "subscribe", types: ["noop"] });
    expect(ok).toMatchObject({ event: "subscribed", subscriptions: { types: ["noop"] } });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  });

  test("an upgrade on another path is refused with 404", async () => {
    expect(await refusedStatus(`ws://127.0.0.1:${t.service.port}/elsewhere`)).toBe(404);
  });

  test("a client that stops reading is closed with 1013 once its unsent updates pass WS_MAX_BUFFERED_BYTES", async () => {
    const slow = await connect();
    await ask(slow, { op: "subscribe", all: true });
    slow.ws.pause();
    const blob = "x".repeat(200_000);
    // Keep producing updates (each carries its 200 kB payload) until the server gives up on the client.
    await waitFor(
      "the slow client to be closed",
      async () => {
        await t.http.post("/jobs/batch").send({ jobs: Array.from({ length: 5 }, () => ({ type: "noop", payload: { blob } })) });
        const metrics = (await t.http.get("/metrics")).text;
        return /taskq_realtime_slow_clients_closed_total\{transport="ws"\} [1-9]/.test(metrics) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    slow.ws.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/^too slow/);
    // Everyone else is unaffected.
    const other = await connect();
    const job = await t.submit({ type: "noop", payload: {} });
    await ask(other, { op: "subscribe", job_ids: [job.id] });
    const seen = await other.next("the job", (m) => updateOf(m, job.id) !== undefined);
    expect((seen.job as JobResource).id).toBe(job.id);
  });
});
