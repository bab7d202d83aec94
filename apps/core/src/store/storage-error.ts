import { PrismaClientInitializationError, PrismaClientKnownRequestError, PrismaClientRustPanicError, PrismaClientUnknownRequestError, PrismaClientValidationError } from "@prisma/client/runtime/client";
import { SqliteError, SqliteWriterStoppedError } from "./sqlite/writer";

/**
 * The database did not carry out a request of the store: it is unreachable, refused the write,
 * or failed. Whatever the dialect, the store throws this and nothing else for a database
 * failure (the driver's error is its `cause`), so the API answers 503 and the worker retries or
 * gives up without knowing which database is behind it.
 */
export class StorageUnavailableError extends Error {
  override readonly name = "StorageUnavailableError";
  /**
   * True when no later try in this process can succeed (the SQLite writer thread is gone):
   * callers that retry storage errors stop at this one.
   */
  readonly lasting: boolean;

  constructor(message: string, options: { cause: unknown; lasting?: boolean }) {
    super(message, { cause: options.cause });
    this.lasting = options.lasting ?? false;
  }
}

const PRISMA_ERRORS = [PrismaClientKnownRequestError, PrismaClientUnknownRequestError, PrismaClientRustPanicError, PrismaClientInitializationError, PrismaClientValidationError];

/**
 * An error thrown while the store ran a statement, as the store's callers see it: a database
 * failure (from the SQLite writer thread, or from Prisma, which wraps its driver adapters'
 * errors) becomes a StorageUnavailableError; anything else (a bug of ours) passes unchanged.
 */
export function asStorageError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  if (error instanceof SqliteWriterStoppedError) return new StorageUnavailableError(error.message, { cause: error, lasting: true });
  if (error instanceof SqliteError || PRISMA_ERRORS.some((type) => error instanceof type)) {
    return new StorageUnavailableError(`the database failed: ${(error as Error).message}`, { cause: error });
  }
  return error;
}
