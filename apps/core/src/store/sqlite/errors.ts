import type { StorageFailureReason } from "../storage-error";
import { SqliteError, SqliteWriterStoppedError } from "./writer";

/** What an SQLite result code says about the failure, when it says more than "unavailable". */
export function sqliteReason(code: string | undefined): StorageFailureReason | null {
  return code === "SQLITE_FULL" ? "disk-full" : null;
}

/** An error of the writer thread: SQLite's (SqliteError), or the thread gone for good. Null for any other error. */
export function sqliteFailure(error: unknown): { reason: StorageFailureReason; lasting: boolean } | null {
  if (error instanceof SqliteWriterStoppedError) return { reason: "unavailable", lasting: true };
  if (error instanceof SqliteError) return { reason: sqliteReason(error.code) ?? "unavailable", lasting: false };
  return null;
}
