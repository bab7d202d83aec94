import type { JobRow } from "../../core/src/jobs/job";
import { startTestService, type TestService } from "./support/test-service";

/**
 * GET /stats keeps the figures of settled minutes (ended over two minutes ago) and reads only
 * the recent ones again; these tests hold both against figures computed here from the rows.
 */
const MINUTE_MS = 60_000;
let t: TestService;
beforeAll(async () => {
  t = await startTestService("stats");
});
afterAll(async () => {
  await t.stop();
});

interface MinuteFigures {
  start: string;
  done: number;
  failed: number;
  cancelled: number;
  avg_run_ms: number | null;
  max_run_ms: number | null;
  avg_queue_ms: number | null;
  max_queue_ms: number | null;
}

let nextId = 0;
/** A job that finished at `finishedAt`, after `runMs` of running and `queueMs` of waiting (none if it never started). */
function finishedRow(status: "DONE" | "FAILED" | "CANCELLED", finishedAt: number, runMs: number | null, queueMs = 5) {
  const startedAt = runMs === null ? null : finishedAt - runMs;
  return {
    id: `00000000-0000-7000-8000-${String(++nextId).padStart(12, "0")}`,
    type: "noop",
    status,
    payload: "{}",
    maxAttempts: 1,
    timeoutMs: 1_000,
    runAt: (startedAt ?? finishedAt) - queueMs,
    createdAt: (startedAt ?? finishedAt) - queueMs,
    updatedAt: finishedAt,
    startedAt,
    finishedAt,
  };
}

/** One minute's figures, from the rows of the jobs that finished in it. */
function figuresOf(start: number, rows: JobRow[]): MinuteFigures {
  const inMinute = rows.filter((r) => r.finishedAt! >= start && r.finishedAt! < start + MINUTE_MS);
  const started = inMinute.filter((r) => r.startedAt !== null);
  const runs = started.map((r) => r.finishedAt! - r.startedAt!);
  const queues = started.map((r) => r.startedAt! - r.runAt);
  const avg = (v: number[]) => (v.length === 0 ? null : Math.round((v.reduce((a, b) => a + b, 0) / v.length) * 100) / 100);
  const max = (v: number[]) => (v.length === 0 ? null : Math.max(...v));
  const count = (status: string) => inMinute.filter((r) => r.status === status).length;
  return { start: new Date(start).toISOString(), done: count("DONE"), failed: count("FAILED"), cancelled: count("CANCELLED"), avg_run_ms: avg(runs), max_run_ms: max(runs), avg_queue_ms: avg(queues), max_queue_ms: max(queues) };
}

async function finishedRows(): Promise<JobRow[]> {
  return t.service.store.db.prisma.job.findMany({ where: { status: { in: ["DONE", "FAILED", "CANCELLED"] } } });
}

/** Each `minutes` value has its own one-second answer cache; the kept minutes are shared by all. */
async function stats(minutes: number): Promise<MinuteFigures[]> {
  const res = await t.http.get(`/stats?minutes=${minutes}`);
  expect(res.status).toBe(200);
  expect(res.body.minutes).toHaveLength(minutes);
  return res.body.minutes as MinuteFigures[];
}

test("the per-minute figures match the rows, and a settled minute is not read again", async () => {
  const prisma = t.service.store.db.prisma;
  const thisMinute = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  const settledMinute = thisMinute - 8 * MINUTE_MS;
  await prisma.job.createMany({
    data: [
      finishedRow("DONE", settledMinute + 1_000, 40),
      finishedRow("DONE", settledMinute + 2_000, 60, 15),
      finishedRow("FAILED", settledMinute + 3_000, 10),
      finishedRow("CANCELLED", settledMinute + 4_000, null),
      finishedRow("DONE", thisMinute - 5 * MINUTE_MS + 10, 7),
      finishedRow("DONE", Date.now(), 3),
    ],
  });
  const first = await stats(15);
  let rows = await finishedRows();
  for (const minute of first) expect(minute).toEqual(figuresOf(Date.parse(minute.start), rows));

  // Late rows: one in the settled minute (kept, so not read again), one in the current minute.
  await prisma.job.createMany({ data: [finishedRow("FAILED", settledMinute + 5_000, 1_000), finishedRow("FAILED", Date.now(), 9)] });
  const second = await stats(14);
  rows = await finishedRows();
  const settledStart = new Date(settledMinute).toISOString();
  for (const minute of second) {
    if (minute.start === settledStart) expect(minute).toEqual(first.find((m) => m.start === settledStart));
    else expect(minute).toEqual(figuresOf(Date.parse(minute.start), rows));
  }
  expect(second.find((m) => m.start === settledStart)).toMatchObject({ done: 2, failed: 1, cancelled: 1, avg_run_ms: 36.67, max_run_ms: 60, avg_queue_ms: 8.33, max_queue_ms: 15 });
});
