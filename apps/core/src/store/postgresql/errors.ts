import type { StorageFailureReason } from "../storage-error";

/** What a PostgreSQL SQLSTATE says about the failure, when it says more than "unavailable". */
export function postgresqlReason(sqlState: string | undefined): StorageFailureReason | null {
  return sqlState === "53100" ? "disk-full" : null;
}
