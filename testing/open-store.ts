import { createLogger } from "../apps/core/src/logger";
import { openDatabase } from "../apps/core/src/store/database";
import { JobStore } from "../apps/core/src/store/job-store";

/** A JobStore on `url` for a test or a script that looks at the jobs beside the services it runs; it logs errors only. */
export async function openStore(url: string): Promise<JobStore> {
  return new JobStore(await openDatabase(url, { busyTimeoutMs: 5_000 }), createLogger({ level: "error", pretty: false }));
}
