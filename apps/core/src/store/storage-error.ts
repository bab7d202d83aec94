import { PrismaClientInitializationError, PrismaClientKnownRequestError, PrismaClientRustPanicError, PrismaClientUnknownRequestError, PrismaClientValidationError } from "@prisma/client/runtime/client";
import { postgresqlReason } from "./postgresql/errors";
import { sqliteFailure, sqliteReason } from "./sqlite/errors";

/** What the operator most needs to know first about a database failure: its disk is full, or anything else (unreachable, locked, failing). */
export type StorageFailureReason = "disk-full" | "unavailable";

/**
 * The database did not carry out a request of the store: it is unreachable, refused the write,
 * or failed. Whatever the dialect, the store throws this and nothing else for a database
 * failure (the driver's error is its `cause`), so the API answers 503 and the worker retries or
 * gives up without knowing which database is behind it.
 */
export class StorageUnavailableError extends Error {
  override readonly name = "StorageUnavailableError";
  readonly reason: StorageFailureReason;
  /**
   * True when no later try in this process can succeed (the SQLite writer thread is gone):
   * callers that retry storage errors stop at this one.
   */
  readonly lasting: boolean;

  constructor(message: string, options: { cause: unknown; reason?: StorageFailureReason; lasting?: boolean }) {
    super(message, { cause: options.cause });
    this.reason = options.reason ?? "unavailable";
    this.lasting = options.lasting ?? false;
  }
}

const PRISMA_ERRORS = [PrismaClientKnownRequestError, PrismaClientUnknownRequestError, PrismaClientRustPanicError, PrismaClientInitializationError, PrismaClientValidationError];

/**
 * An error thrown while the store ran a statement, as the store's callers see it: a database
 * failure (from SQLite, or from Prisma, which wraps its driver adapters' errors) becomes a
 * StorageUnavailableError; anything else (a bug of ours) passes unchanged.
 */
export function asStorageError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  const sqlite = sqliteFailure(error);
  if (sqlite) return new StorageUnavailableError(`the database failed: ${(error as Error).message}`, { cause: error, ...sqlite });
  if (PRISMA_ERRORS.some((type) => error instanceof type)) {
    const code = driverCode(error);
    return new StorageUnavailableError(`the database failed: ${(error as Error).message}`, { cause: error, reason: sqliteReason(code) ?? postgresqlReason(code) ?? "unavailable" });
  }
  return error;
}

/**
 * The driver's own code (an SQLSTATE, an SQLite result code) that Prisma keeps: in the meta of
 * an error its driver adapter mapped, or as the error's code when the adapter passed SQLite's
 * error through unmapped.
 */
function driverCode(error: unknown): string | undefined {
  const { code, meta } = error as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown } } } };
  const cause = meta?.driverAdapterError?.cause;
  const found = cause?.originalCode ?? cause?.code ?? code;
  return typeof found === "string" ? found : undefined;
}
