import { parentPort, workerData } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import type { CheckpointerData } from "./writer";

/**
 * The SQLite checkpointer thread (SqliteWriter): copies committed WAL frames into the database
 * file, on a connection of its own, whenever another connection has committed since it last
 * looked. PASSIVE never waits for readers or writers; what it cannot copy now, it copies on a
 * later round.
 */
const { path, busyTimeoutMs, intervalMs } = workerData as CheckpointerData;
const port = parentPort!;
const connection = new BetterSqlite3(path, { timeout: busyTimeoutMs });
const dataVersion = connection.prepare("PRAGMA data_version").pluck();
const checkpoint = connection.prepare("PRAGMA wal_checkpoint(PASSIVE)");
let seen = dataVersion.get();
// Frames a round could not copy (a reader still needed them) are copied by a later one even if
// nothing is committed meanwhile.
let behind = false;
let timer: NodeJS.Timeout | null = null;

const round = () => {
  const version = dataVersion.get();
  if (version !== seen || behind) {
    seen = version;
    try {
      const { log, checkpointed } = checkpoint.get() as { busy: number; log: number; checkpointed: number };
      behind = checkpointed < log;
    } catch {
      // Another process's checkpointer holds the lock, or the disk refused: the frames stay in
      // the WAL, readable as before, and the next round tries again.
      behind = true;
    }
  }
  timer = setTimeout(round, intervalMs);
};

port.on("message", (message: "close") => {
  if (message !== "close") return;
  if (timer) clearTimeout(timer);
  connection.close();
  port.close();
});
timer = setTimeout(round, intervalMs);
port.postMessage("ready");
