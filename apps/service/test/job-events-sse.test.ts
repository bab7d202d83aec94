import { jobOf, openEventStream } from "./support/live-clients";
import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  t = await startTestService("sse", { REALTIME_HEARTBEAT_MS: "200" });
});
afterAll(async () => {
  await t.stop();
});

const eventsUrl = (id: string) => `${t.baseUrl}/jobs/${id}/events`;

describe("GET /jobs/{id}/events (Server-Sent Events)", () => {
  test("a long hash job streams RUNNING with rising progress; cancelling it ends the stream with CANCELLED", async () => {
    // Far more rounds than can finish before the test cancels it: progress must show while it runs.
    const job = await t.submit({ type: "hash", payload: { data: "progress", iterations: 50_000_000 } });
    const stream = await openEventStream(eventsUrl(job.id));
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const progressed = await stream.next("an event with progress > 0", (e) => {
      const j = jobOf(e);
      return j.status === "RUNNING" && typeof j.progress === "number" && j.progress > 0;
    });
    await stream.next("a second, later progress report", (e) => e !== progressed && (jobOf(e).progress as number) > (jobOf(progressed).progress as number));
    expect((await t.http.post(`/jobs/${job.id}/cancel`)).status).toBe(202);
    const events = await stream.ended;
    const last = jobOf(events[events.length - 1]!);
    expect(last.status).toBe("CANCELLED");
    expect(events.every((e) => e.event === "job.updated")).toBe(true);
    // Each event is a new state: ids never repeat, and progress never goes backwards.
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const progress = events.map((e) => jobOf(e).progress).filter((p): p is number => typeof p === "number");
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  test("a job that finished before the client connected: its final state at once, then the stream ends", async () => {
    const job = await t.submit({ type: "noop", payload: {} });
    const done = await t.waitForJob(job.id, "DONE");
    const stream = await openEventStream(eventsUrl(job.id));
    const events = await stream.ended;
    expect(events).toHaveLength(1);
    expect(jobOf(events[0]!)).toEqual(done);
  });

  test("a scheduled job streams its states in lifecycle order and ends DONE", async () => {
    const job = await t.submit({ type: "sleep", payload: { ms: 50 }, delay_ms: 300 });
    const stream = await openEventStream(eventsUrl(job.id));
    const statuses = (await stream.ended).map((e) => jobOf(e).status);
    expect(statuses[statuses.length - 1]).toBe("DONE");
    const order = ["PENDING", "RUNNING", "DONE"];
    expect(statuses.map((s) => order.indexOf(s))).toEqual([...statuses.map((s) => order.indexOf(s))].sort());
  });

  test("Last-Event-ID: the state a client already saw is not sent again; a finished job fully seen answers 204", async () => {
    const job = await t.submit({ type: "noop", payload: {} });
    await t.waitForJob(job.id, "DONE");
    const [final] = await (await openEventStream(eventsUrl(job.id))).ended;
    const seen = await fetch(eventsUrl(job.id), { headers: { "last-event-id": final!.id! } });
    expect(seen.status).toBe(204);
    const viaQuery = await fetch(`${eventsUrl(job.id)}?last_event_id=${encodeURIComponent(final!.id!)}`);
    expect(viaQuery.status).toBe(204);
    const stale = await openEventStream(eventsUrl(job.id), { "last-event-id": "1" });
    const events = await stale.ended;
    expect(events.map((e) => e.id)).toEqual([final!.id]);
  });

  test("heartbeat comments flow while a job waits", async () => {
    const job = await t.submit({ type: "sleep", payload: { ms: 10 }, delay_ms: 60_000 });
    const res = await fetch(eventsUrl(job.id));
    const reader = res.body!.getReader();
    let text = "";
    const deadline = Date.now() + 15_000;
    while (!text.includes(": keep-alive") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString("utf8");
    }
    await reader.cancel();
    expect(text).toContain(": keep-alive");
    expect((await t.http.post(`/jobs/${job.id}/cancel`)).status).toBe(200);
  });

  test("unknown id → 404 problem, malformed id → 400 problem", async () => {
    const missing = await t.http.get("/jobs/00000000-0000-4000-8000-000000000000/events");
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const bad = await t.http.get("/jobs/nope/events");
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([{ field: "id", message: "must be a UUID" }]);
  });
});
