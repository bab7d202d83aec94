import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { JobEvents } from "../../core/src/events";
import { createLogger } from "../../core/src/logger";
import { type Database, openDatabase, postgresSchema } from "../../core/src/store/database";
import { migrate } from "../../core/src/store/migrate";
import { type Notifier, startNotifier } from "../../core/src/store/notifier";
import { signalChannel } from "../../core/src/store/postgresql/listen-notify";
import { createTestDatabase, POSTGRES_TEST_URL, type TestDatabase } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";

const logger = createLogger({ level: "error", pretty: true });
let db: TestDatabase;
let admin: Client;
const opened: { database: Database; notifier: Notifier }[] = [];

beforeAll(async () => {
  db = await createTestDatabase("listen");
  await migrate(db.url, { busyTimeoutMs: 5_000 });
  admin = new Client({ connectionString: POSTGRES_TEST_URL });
  await admin.connect();
});
afterAll(async () => {
  for (const { database, notifier } of opened) {
    await notifier.close();
    await database.prisma.$disconnect();
  }
  await admin.end();
  await db.drop();
});

async function peer(): Promise<{ events: JobEvents; updated: string[]; wakeUps: () => number }> {
  const database = await openDatabase(db.url, { busyTimeoutMs: 5_000 });
  const events = new JobEvents();
  const updated: string[] = [];
  let wakeUps = 0;
  events.on("job:updated", (id) => updated.push(id));
  events.on("jobs:available", () => wakeUps++);
  opened.push({ database, notifier: await startNotifier(database, events, logger, { sqlitePoll: { fastMs: 5, idleMs: 50 } }) });
  return { events, updated, wakeUps: () => wakeUps };
}

async function listenerPids(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query = $1", [`LISTEN "${signalChannel(postgresSchema(db.url))}"`]);
  return rows.map((r) => r.pid);
}

describe("LISTEN/NOTIFY on PostgreSQL", () => {
  test("when the LISTEN connection is killed, the notifier reconnects, wakes its process once to catch up, and receives again", async () => {
    const a = await peer();
    const b = await peer();
    const first = randomUUID();
    a.events.emit("job:updated", first);
    await waitFor("B to receive the first update", () => (b.updated.includes(first) ? true : undefined));

    const before = await listenerPids();
    expect(before).toHaveLength(2);
    const wakeUpsBefore = b.wakeUps();
    await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [before]);
    await waitFor("both listeners to reconnect", async () => {
      const now = await listenerPids();
      return now.length === 2 && now.every((pid) => !before.includes(pid)) ? true : undefined;
    });
    await waitFor("B's catch-up wake-up", () => (b.wakeUps() === wakeUpsBefore + 1 ? true : undefined));

    const second = randomUUID();
    a.events.emit("job:updated", second);
    await waitFor("B to receive an update after the reconnect", () => (b.updated.includes(second) ? true : undefined));
  });
});
