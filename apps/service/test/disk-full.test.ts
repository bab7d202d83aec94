import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { LogLine } from "../../core/test/support/log-lines";
import type { Service } from "../src/service";
import { postgresFilesOwner, type PostgresServer, startPostgresServer } from "../../../testing/postgres-server";
import { mountSmallDisk, type SmallDisk, smallDiskUnavailable } from "../../../testing/small-disk";
import { testDialect } from "../../../testing/test-database";
import { waitFor } from "../../../testing/wait";
import { startServiceKeepingLogs } from "./support/logged-service";

/**
 * The database's disk fills up, for real: SQLite's file lives on a small tmpfs, or PostgreSQL
 * (a server of this test's own) keeps the service's database in a tablespace on one (its WAL
 * stays on the big disk, as on a server whose data volume filled). Submissions are refused with
 * a 503 that says the disk is full, without a path; the service is not ready while writes fail,
 * though the database still answers its probe; once space is freed it works again by itself.
 */
const unavailable = smallDiskUnavailable();
if (unavailable) console.warn(`SKIPPED: disk-full tests — ${unavailable}`);
const describeWithDisk = unavailable ? describe.skip : describe;

let disk: SmallDisk | undefined;
let server: PostgresServer | undefined;
let service: Service;
let lines: LogLine[];

beforeAll(async () => {
  if (unavailable) return;
  let url: string;
  if (testDialect === "postgresql") {
    server = await startPostgresServer();
    // CREATE DATABASE copies template1 (~8 MB) into the tablespace.
    disk = mountSmallDisk(32, postgresFilesOwner() ?? undefined);
    await server.sql(`CREATE TABLESPACE small LOCATION '${disk.path}'`);
    await server.sql("CREATE DATABASE full_disk TABLESPACE small");
    url = server.url({ database: "full_disk" });
  } else {
    disk = mountSmallDisk(8);
    url = `file:${join(disk.path, "jobs.db")}`;
  }
  ({ service, lines } = await startServiceKeepingLogs({ url, drop: async () => undefined }, { WORKER_ID: "disk-full", BODY_LIMIT_BYTES: String(8 * 1024 * 1024) }));
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await server?.destroy();
  disk?.remove();
}, 60_000);

const base = () => `http://127.0.0.1:${service.port}`;
const post = (path: string, body: unknown) => fetch(`${base()}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const ready = async () => (await fetch(`${base()}/readyz`)).status;
const pending = async () => ((await (await fetch(`${base()}/stats`)).json()) as { counts: Record<string, number> }).counts.PENDING;

/** Three megabytes of jobs that wait an hour (incompressible, so that PostgreSQL's TOAST cannot shrink them): more than the WAL or a page holds. */
const bigBatch = () => ({ jobs: Array.from({ length: 300 }, () => ({ type: "hash", payload: { data: randomBytes(5_000).toString("hex"), iterations: 1 }, delay_ms: 3_600_000 })) });

describeWithDisk(`the database's disk full (${testDialect === "postgresql" ? "a PostgreSQL tablespace" : "the SQLite file's"} on a small tmpfs)`, () => {
  test("a submission gets a 503 saying the disk is full, nothing is stored, the service is not ready; freed, it is ready and works again", async () => {
    expect((await post("/jobs", { type: "noop", payload: {} })).status).toBe(202);
    const before = await pending();
    disk!.fill();
    let refused: Response;
    try {
      refused = await post("/jobs/batch", bigBatch());
      const problem = (await refused.json()) as { type: string; detail: string };
      expect({ status: refused.status, type: problem.type, retryAfter: refused.headers.get("retry-after") }).toEqual({
        status: 503,
        type: "urn:taskq:problem:storage-unavailable",
        retryAfter: "10",
      });
      expect(problem.detail).toMatch(/disk is full/);
      // What the operator reads: no path, no driver's message.
      expect(problem.detail).not.toContain(disk!.path);
      expect(problem.detail).not.toMatch(/SQLITE|ENOSPC|could not|\//);
      expect(await pending()).toBe(before);
      // The database still answers reads (and the probe's query): readiness fails on the failed write.
      const readiness = await fetch(`${base()}/readyz`);
      expect({ status: readiness.status, checks: ((await readiness.json()) as { checks: Record<string, string> }).checks }).toMatchObject({ status: 503, checks: { database: "failing" } });
      expect(lines).toContainEqual(expect.objectContaining({ message: expect.stringMatching(/^storage failing/), reason: "disk-full" }));
    } finally {
      disk!.free();
    }

    await waitFor("the service to be ready again", async () => ((await ready()) === 200 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    const accepted = await post("/jobs/batch", bigBatch());
    expect(accepted.status).toBe(202);
    const job = (await (await post("/jobs", { type: "noop", payload: {} })).json()) as { id: string };
    await waitFor("a job submitted afterwards to run", async () => (((await (await fetch(`${base()}/jobs/${job.id}`)).json()) as { status: string }).status === "DONE" ? true : undefined), {
      timeoutMs: 30_000,
    });
  }, 180_000);
});
