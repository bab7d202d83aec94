import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseEventStream, type ServerSentEvent } from "../../client/src/event-stream";
import { SseStream } from "../src/sse-stream";

let server: Server;
let url: string;
let produce: (stream: SseStream) => void;

beforeAll(async () => {
  server = createServer((_req, res) => produce(new SseStream(res, 60_000)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function read(): Promise<ServerSentEvent[]> {
  const res = await fetch(url);
  const events: ServerSentEvent[] = [];
  for await (const e of parseEventStream(res.body!)) events.push(e);
  return events;
}

describe("SseStream back-pressure", () => {
  test("events sent while the socket is not taking writes are coalesced to the latest; the end waits for it", async () => {
    const big = "x".repeat(100_000);
    let coalesced = -1;
    produce = (stream) => {
      // A 100 kB event is over the socket's high-water mark: the first write reports back-pressure,
      // so the next 99 events, sent in the same turn, replace one another instead of queueing.
      for (let i = 1; i <= 100; i++) stream.send({ id: String(i), event: "job.updated", data: JSON.stringify({ i, big }) });
      coalesced = stream.coalesced;
      stream.end();
    };
    const events = await read();
    expect(events.map((e) => e.id)).toEqual(["1", "100"]);
    expect(coalesced).toBe(98);
  });

  test("small events to a reading client are all delivered, in order", async () => {
    produce = (stream) => {
      for (let i = 1; i <= 20; i++) stream.send({ id: String(i), event: "job.updated", data: `{"i":${i}}` });
      stream.end();
    };
    const events = await read();
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    expect(events[0]).toEqual({ id: "1", event: "job.updated", data: '{"i":1}' });
  });
});
