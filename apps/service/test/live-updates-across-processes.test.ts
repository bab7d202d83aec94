import { jobOf, openEventStream, openSocket, updateOf } from "./support/live-clients";
import { type ServiceProcess, startServiceProcess, stopAll, submitTo } from "./support/service-process";
import { createTestDatabase, type TestDatabase } from "../../../testing/test-database";

let db: TestDatabase;
let api: ServiceProcess;
let worker: ServiceProcess;

beforeAll(async () => {
  db = await createTestDatabase("live_xproc");
  // The API process runs no jobs: every state after PENDING comes from the worker process.
  [api, worker] = await Promise.all([
    startServiceProcess("live-api", { ROLE: "api", DATABASE_URL: db.url }),
    startServiceProcess("live-worker", { ROLE: "worker", DATABASE_URL: db.url, POLL_INTERVAL_MS: "60000" }),
  ]);
}, 180_000);

afterAll(async () => {
  await stopAll([api, worker].filter(Boolean));
  await db.drop();
});

describe("live updates reach an API process whichever worker process ran the job", () => {
  test("an SSE client on the API follows a job the worker process runs through to DONE, with its result", async () => {
    const [{ id }] = (await submitTo(api, "/jobs", { type: "hash", payload: { data: "x", iterations: 400_000 } })) as [{ id: string }];
    const stream = await openEventStream(`${api.baseUrl}/jobs/${id}/events`);
    const events = await stream.ended;
    const states = events.map((e) => jobOf(e).status);
    expect(states[states.length - 1]).toBe("DONE");
    expect(jobOf(events[events.length - 1]!).result).toMatchObject({ iterations: 400_000 });
  });

  test("a WebSocket subscriber on the API sees the worker's updates for a job id", async () => {
    const socket = await openSocket(`${api.baseUrl.replace("http", "ws")}/ws`);
    try {
      const [{ id }] = (await submitTo(api, "/jobs", { type: "sleep", payload: { ms: 300 } })) as [{ id: string }];
      socket.send({ op: "subscribe", job_ids: [id] });
      const done = await socket.next("the job DONE", (m) => updateOf(m, id)?.status === "DONE");
      expect(updateOf(done, id)?.result).toEqual({ slept_ms: 300 });
    } finally {
      socket.ws.close();
    }
  });
});
