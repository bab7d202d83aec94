import { randomUUID } from "node:crypto";
import { JobEvents } from "../../core/src/events";
import { createLogger } from "../../core/src/logger";
import { openDatabase } from "../../core/src/store/database";
import { migrate } from "../../core/src/store/migrate";
import { type Notifier, startNotifier } from "../../core/src/store/notifier";
import { nextPollMs, STAY_FAST_MS } from "../../core/src/store/sqlite/signals";
import { createTestDatabase, type TestDatabase } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";

/** Two notifiers on one database, each with its own connections and bus: two processes as far as the database can tell. */
interface Peer {
  events: JobEvents;
  notifier: Notifier;
  /** The dueAt of every jobs:available event, the cancelled and the updated ids, in order. */
  seen: { available: number[]; availableTypes: (readonly string[] | undefined)[]; cancel: string[]; updated: string[] };
  close(): Promise<void>;
}

const logger = createLogger({ level: "error", pretty: true });
let db: TestDatabase;
let a: Peer;
let b: Peer;

async function peer(url: string): Promise<Peer> {
  const database = await openDatabase(url, { busyTimeoutMs: 5_000 });
  const events = new JobEvents();
  const seen = { available: [] as number[], availableTypes: [] as (readonly string[] | undefined)[], cancel: [] as string[], updated: [] as string[] };
  events.on("jobs:available", (dueAt, types) => {
    seen.available.push(dueAt);
    seen.availableTypes.push(types);
  });
  events.on("job:cancel-requested", (id) => seen.cancel.push(id));
  events.on("job:updated", (id) => seen.updated.push(id));
  const notifier = await startNotifier(database, events, logger, { sqlitePoll: { fastMs: 5, idleMs: 50 } });
  return {
    events,
    notifier,
    seen,
    async close() {
      await notifier.close();
      await database.prisma.$disconnect();
    },
  };
}

beforeAll(async () => {
  db = await createTestDatabase("notifier");
  await migrate(db.url, { busyTimeoutMs: 5_000 });
  a = await peer(db.url);
  b = await peer(db.url);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db.drop();
});

describe("the notifier carries job events between processes sharing a database", () => {
  test("a wake-up (with the earliest due time), a cancel request and job updates reach the other process; the sender sees its own events once", async () => {
    const cancelled = randomUUID();
    const updated = randomUUID();
    const due = Date.now() + 60_000.5;
    const before = { available: a.seen.available.length };
    // Two announcements in one turn travel as one message carrying both due times, in whole ms, earliest first.
    a.events.emit("jobs:available", due + 1_000);
    a.events.emit("jobs:available", due);
    a.events.emit("job:cancel-requested", cancelled);
    a.events.emit("job:updated", updated);
    await waitFor("B to receive A's events", () =>
      b.seen.available.length > 0 && b.seen.cancel.includes(cancelled) && b.seen.updated.includes(updated) ? true : undefined,
    );
    expect(b.seen.available).toEqual([Math.ceil(due), Math.ceil(due) + 1_000]);
    // Give A's own messages time to come back through the transport, then check that they were dropped:
    // B sends a marker after, and once A has it, anything A sent earlier has been delivered to A too.
    const marker = randomUUID();
    b.events.emit("job:updated", marker);
    await waitFor("A to receive B's marker", () => (a.seen.updated.includes(marker) ? true : undefined));
    expect(a.seen.available).toHaveLength(before.available + 2);
    expect(a.seen.cancel.filter((id) => id === cancelled)).toHaveLength(1);
    expect(a.seen.updated.filter((id) => id === updated)).toHaveLength(1);
    // Nor does B echo what it received back to A.
    expect(b.seen.updated.filter((id) => id === updated)).toHaveLength(1);
  });

  test("job updates are batched: a thousand updates in one turn travel as a handful of messages", async () => {
    const ids = Array.from({ length: 1_000 }, () => randomUUID());
    const published = a.notifier.counts.published;
    for (const id of ids) a.events.emit("job:updated", id);
    await waitFor("B to receive every update", () => (ids.every((id) => b.seen.updated.includes(id)) ? true : undefined));
    expect(a.notifier.counts.published - published).toBeLessThanOrEqual(10);
  });

  test("a wake-up carries the job types announced with it; merged with an untyped one, it carries none", async () => {
    const due = Date.now() + 120_000.5;
    const typesAt = (at: number) => {
      const i = b.seen.available.indexOf(Math.ceil(at));
      return i < 0 ? "missing" : b.seen.availableTypes[i];
    };
    a.events.emit("jobs:available", due, ["hash"]);
    a.events.emit("jobs:available", due + 1_000, ["noop", "hash"]);
    await waitFor("B to receive the typed wake-up", () => (typesAt(due + 1_000) !== "missing" ? true : undefined));
    expect(typesAt(due)).toEqual(["hash", "noop"]);
    expect(typesAt(due + 1_000)).toEqual(["hash", "noop"]);

    a.events.emit("jobs:available", due + 2_000, ["hash"]);
    a.events.emit("jobs:available", due + 3_000);
    await waitFor("B to receive the merged wake-up", () => (typesAt(due + 3_000) !== "missing" ? true : undefined));
    expect(typesAt(due + 2_000)).toBeUndefined();
    expect(typesAt(due + 3_000)).toBeUndefined();
  });
});

describe("SQLite's check for other processes' writes", () => {
  const poll = { fastMs: 5, idleMs: 50 };

  test("stays fast for a second after any write, then slows to the idle interval", () => {
    expect(nextPollMs(0, poll)).toBe(5);
    expect(nextPollMs(STAY_FAST_MS - 1, poll)).toBe(5);
    expect(nextPollMs(STAY_FAST_MS, poll)).toBe(50);
    expect(nextPollMs(60_000, poll)).toBe(50);
  });
});
