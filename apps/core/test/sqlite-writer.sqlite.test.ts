import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import { SqliteError, SqliteWriter } from "../src/store/sqlite-writer";

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
    await expect(writer.run("SELECT 1", [])).rejects.toThrow("the SQLite writer thread exited");
    expect(exits).toHaveLength(1);
  });
});
