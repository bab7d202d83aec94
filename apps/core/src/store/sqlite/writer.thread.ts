import { parentPort, workerData } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import { runDirect } from "./run-direct";
import type { WriterData, WriterReply, WriterRequest } from "./writer";

/**
 * The SQLite writer thread (SqliteWriter): one connection, each statement run as it arrives
 * and answered with its rows, its run result or its error.
 */
const { path, busyTimeoutMs } = workerData as WriterData;
const port = parentPort!;
const connection = new BetterSqlite3(path, { timeout: busyTimeoutMs });
// WAL lets readers run beside the writer; synchronous=NORMAL commits without an fsync per
// transaction (README, "Durability").
connection.pragma("journal_mode = WAL");
connection.pragma("synchronous = NORMAL");
// The checkpointer thread checkpoints instead (SqliteWriter).
connection.pragma("wal_autocheckpoint = 0");

port.on("message", (request: WriterRequest | "close") => {
  if (request === "close") {
    connection.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    const result = runDirect<unknown>(connection, request.sql, request.args);
    reply = Array.isArray(result) ? { id: request.id, rowsJson: JSON.stringify(result) } : { id: request.id, result };
  } catch (error) {
    const { name, message, code } = error as { name?: string; message?: string; code?: string };
    reply = { id: request.id, error: { name: name ?? "Error", message: message ?? String(error), code } };
  }
  port.postMessage(reply);
});
port.postMessage("ready");
