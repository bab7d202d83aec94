import { Worker } from "node:worker_threads";
import { Client } from "pg";
import { dialectOf, postgresConnection, sqlitePath } from "../../../core/src/store/database";

/**
 * Holds the write lock on a test database's jobs from outside the service, as another
 * process's long transaction would: SQLite's write lock on the file (BEGIN EXCLUSIVE, from a
 * thread of its own, since better-sqlite3 waits synchronously and the holder must not block the
 * test's thread), or PostgreSQL's EXCLUSIVE lock on the jobs table. Plain reads go on; every
 * write of the jobs waits until release(), or fails once it has waited its busy timeout
 * (SQLite). With `releaseAfterMs`, the lock also ends by itself after that long.
 */
export async function holdJobsWriteLock(url: string, options: { releaseAfterMs?: number } = {}): Promise<{ release(): Promise<void> }> {
  return dialectOf(url) === "sqlite" ? holdSqliteWriteLock(sqlitePath(url), options.releaseAfterMs ?? null) : holdPostgresqlLock(url, options.releaseAfterMs ?? null);
}

async function holdSqliteWriteLock(file: string, releaseAfterMs: number | null): Promise<{ release(): Promise<void> }> {
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     const db = new (require(workerData.driver))(workerData.file);
     db.exec("BEGIN EXCLUSIVE");
     parentPort.postMessage("locked");
     const release = () => { db.exec("COMMIT"); db.close(); parentPort.postMessage("released"); parentPort.close(); };
     if (workerData.releaseAfterMs !== null) setTimeout(release, workerData.releaseAfterMs);
     else parentPort.once("message", release);`,
    { eval: true, workerData: { driver: require.resolve("better-sqlite3"), file, releaseAfterMs } },
  );
  const released = new Promise<void>((resolve, reject) => {
    worker.on("message", (m) => m === "released" && resolve());
    worker.on("error", reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  return {
    async release() {
      if (releaseAfterMs === null) worker.postMessage("release");
      await released;
      await worker.terminate();
    },
  };
}

async function holdPostgresqlLock(url: string, releaseAfterMs: number | null): Promise<{ release(): Promise<void> }> {
  const client = new Client(postgresConnection(url));
  await client.connect();
  await client.query("BEGIN");
  await client.query("LOCK TABLE jobs IN EXCLUSIVE MODE");
  let released: Promise<void> | null = null;
  const release = () =>
    (released ??= (async () => {
      try {
        await client.query("COMMIT");
      } finally {
        await client.end();
      }
    })());
  const timer = releaseAfterMs === null ? null : setTimeout(() => void release(), releaseAfterMs);
  return {
    async release() {
      if (timer) clearTimeout(timer);
      await release();
    },
  };
}
