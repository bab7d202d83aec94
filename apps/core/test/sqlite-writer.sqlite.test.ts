import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import { openDatabase } from "../src/store/database";
import { migrate } from "../src/store/migrate";
import { SqliteError, SqliteWriter, SqliteWriterStoppedError } from "../src/store/sqlite/writer";
import { waitFor } from "../../../testing/wait";

let dir: string;
let writer: SqliteWriter;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "taskq-writer-"));
  writer = await SqliteWriter.open({ path: join(dir, "writer.db"), busyTimeoutMs: 1_000 });
  await writer.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)", []);
});
afterEach(async () => {
  await writer.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("SqliteWriter: the SQLite statements of the hot path, on a thread of their own", () => {
  test("statements run in the order they were sent, even when none is awaited before the next", async () => {
    const inserts = Array.from({ length: 200 }, (_, i) => writer.run<{ id: number }[]>("INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id", [i, `v${i}`]));
    const read = writer.run<{ n: number; last: string }[]>("SELECT count(*) AS n, max(id) AS last FROM t", []);
    expect((await Promise.all(inserts)).map((rows) => rows[0]!.id)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(await read).toEqual([{ n: 200, last: 199 }]);
  });

  test("a statement without rows answers its run result; $n may repeat and come in any order", async () => {
    const result = await writer.run<{ changes: number }>("INSERT INTO t (id, v) VALUES ($2, $1 || $1)", ["ab", 7]);
    expect(result.changes).toBe(1);
    expect(await writer.run("SELECT v FROM t WHERE id = $1", [7])).toEqual([{ v: "abab" }]);
  });

  test("an SQLite error reaches the caller as an SqliteError with its result code, and the next statement still runs", async () => {
    await writer.run("INSERT INTO t (id, v) VALUES (1, 'a')", []);
    const error = await writer.run("INSERT INTO t (id, v) VALUES (1, 'b')", []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqliteError);
    expect(error).toMatchObject({ name: "SqliteError", code: "SQLITE_CONSTRAINT_PRIMARYKEY" });
    expect(await writer.run("SELECT v FROM t", [])).toEqual([{ v: "a" }]);
  });

  test("the main thread keeps running while a long statement runs", async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    try {
      // Counts to 3 million in SQLite: hundreds of milliseconds of the writer thread's time.
      const rows = await writer.run<{ n: number }[]>("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) AS n FROM c", []);
      expect(rows).toEqual([{ n: 3_000_000 }]);
    } finally {
      clearInterval(ticker);
    }
    // Run on this thread, the statement would have let the timer fire once at most.
    expect(ticks).toBeGreaterThan(3);
  });

  test("close() lets the statements already sent finish; later ones are refused", async () => {
    const sent = writer.run("INSERT INTO t (id, v) VALUES (1, 'sent before close')", []);
    await writer.close();
    await expect(sent).resolves.toMatchObject({ changes: 1 });
    await expect(writer.run("SELECT 1", [])).rejects.toThrow("the SQLite writer is closed");
  });

  test("a thread that stops on its own fails the statements in flight and every later one, and says so once", async () => {
    const exits: Error[] = [];
    writer.onExit((error) => exits.push(error));
    const inFlight = writer.run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) AS n FROM c", []);
    // What an out-of-memory end or a crash of the thread looks like from here (the thread is private to SqliteWriter).
    await (writer as unknown as { worker: Worker }).worker.terminate();
    await expect(inFlight).rejects.toThrow("the SQLite writer thread exited");
    // Its own class, so that the callers that retry storage errors know this one is final.
    await expect(writer.run("SELECT 1", [])).rejects.toBeInstanceOf(SqliteWriterStoppedError);
    await expect(writer.run("SELECT 1", [])).rejects.toThrow("the SQLite writer thread exited");
    expect(exits).toHaveLength(1);
  });

  test("WAL checkpoints run on the checkpointer thread: the writer's commits never run one, and the database file still takes the frames", async () => {
    expect(await writer.run("PRAGMA wal_autocheckpoint", [])).toEqual([{ wal_autocheckpoint: 0 }]);
    const before = statSync(join(dir, "writer.db")).size;
    // ~4 MB of rows: past SQLite's 1,000-page mark, where the writer's commit would have checkpointed.
    for (let i = 0; i < 40; i++) await writer.run("INSERT INTO t (v) SELECT hex(randomblob(50000)) FROM (SELECT 1 UNION ALL SELECT 2)", []);
    // Until a checkpoint copies them, the rows are only in the WAL; the database file grows when it does.
    await waitFor("the database file to take the checkpointed rows", () => (statSync(join(dir, "writer.db")).size > before + 3_000_000 ? true : undefined));
  });

  test("a checkpointer that stops on its own is reported once, and the writer checkpoints its own commits again", async () => {
    const stops: Error[] = [];
    writer.onCheckpointerStopped((error) => stops.push(error));
    await (writer as unknown as { checkpointer: Worker }).checkpointer.terminate();
    await waitFor("the checkpointer's stop to be reported", () => (stops.length > 0 ? true : undefined));
    expect(await writer.run("PRAGMA wal_autocheckpoint", [])).toEqual([{ wal_autocheckpoint: 1_000 }]);
    await writer.run("INSERT INTO t (v) VALUES ('still written')", []);
    expect(stops).toHaveLength(1);
  });
});

test("a SQLite database opened for the service leaves checkpoints to the checkpointer: neither Prisma's connection nor the writer's runs one", async () => {
  const url = `file:${join(dir, "service.db")}`;
  await migrate(url, { busyTimeoutMs: 1_000 });
  const db = await openDatabase(url, { busyTimeoutMs: 1_000 });
  try {
    expect(await db.prisma.$queryRawUnsafe("PRAGMA wal_autocheckpoint")).toEqual([{ wal_autocheckpoint: 0n }]);
    expect(await db.writer!.run("PRAGMA wal_autocheckpoint", [])).toEqual([{ wal_autocheckpoint: 0 }]);
  } finally {
    await db.prisma.$disconnect();
    await db.writer!.close();
  }
});
