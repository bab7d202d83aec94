import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { startServiceProcess } from "../testing/service-process";

/**
 * Chaos run: the all-in-one service on SQLite as a child process, jobs submitted continuously
 * while the process is SIGKILLed and restarted at random moments; then, once the queue is
 * quiet, every accepted job is checked. Usage:
 *
 *   npm run chaos -- --jobs 5000 --kills 10 [--concurrency 16] [--max-gap-ms 8000] [--keep]
 *
 * Each job is a chaos "record" job: it sleeps a little, then appends its id to an execution
 * log, which counts real executions. Submitters send an Idempotency-Key and retry on any
 * failure, as a careful client would, so that a job whose 202 was lost in a kill is not sent
 * twice. Exit status 1 if any accepted job is lost or a DONE job never executed.
 */
const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "5000" },
    kills: { type: "string", default: "10" },
    concurrency: { type: "string", default: "16" },
    "max-gap-ms": { type: "string", default: "8000" },
    keep: { type: "boolean", default: false },
  },
});
const JOBS = positive("jobs");
const KILLS = Number(args.kills);
if (!Number.isInteger(KILLS) || KILLS < 0) throw new Error("--kills must be a whole number");
const CONCURRENCY = positive("concurrency");
const MAX_GAP_MS = positive("max-gap-ms");

const UUID_LINE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12} \d+$/;
const TERMINAL = new Set(["DONE", "FAILED", "CANCELLED"]);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "taskq-chaos-"));
  const dbFile = join(dir, "jobs.db");
  const executionLog = join(dir, "executions.log");
  const env = {
    NODE_ENV: "production",
    LOG_LEVEL: "error",
    DATABASE_URL: `file:${dbFile}`,
    // The same slot restarts, so restart recovery takes back its RUNNING jobs at once.
    WORKER_ID: "chaos-1",
    ENABLE_TEST_HANDLERS: "true",
    CHAOS_EXECUTION_LOG: executionLog,
    RETRY_BASE_MS: "50",
    RETRY_MAX_MS: "500",
  };
  const started = Date.now();
  let service = await startServiceProcess("chaos-1", env);
  const accepted = new Set<string>();
  let submitErrors = 0;
  let next = 0;

  const submitter = async () => {
    while (next < JOBS) {
      const i = next++;
      const body = JSON.stringify({ type: "chaos", payload: { mode: "record", ms: (i % 20) * 25 }, max_attempts: 20 });
      for (;;) {
        try {
          const res = await fetch(`${service.baseUrl}/jobs`, {
            method: "POST",
            headers: { "Content-Type": "application/json", "Idempotency-Key": `chaos-${i}` },
            body,
            signal: AbortSignal.timeout(10_000),
          });
          if (res.status === 202) {
            accepted.add(((await res.json()) as { id: string }).id);
            break;
          }
          submitErrors++;
        } catch {
          submitErrors++;
        }
        await delay(50);
      }
    }
  };
  const submitters = Promise.all(Array.from({ length: CONCURRENCY }, submitter));

  const kills: { atMs: number; accepted: number; running: number }[] = [];
  for (let k = 0; k < KILLS; k++) {
    await delay(200 + Math.random() * (MAX_GAP_MS - 200));
    await service.kill();
    kills.push({ atMs: Date.now() - started, accepted: accepted.size, running: countRunning(dbFile) });
    service = await startServiceProcess("chaos-1", env);
  }
  await submitters;
  const submittedMs = Date.now() - started;
  await waitForQuiet(dbFile, 10 * 60_000);
  await service.stop();

  const rows = readJobs(dbFile);
  const executions = countExecutions(executionLog);
  const byStatus = (s: string) => [...accepted].filter((id) => rows.get(id) === s).length;
  const lost = [...accepted].filter((id) => !TERMINAL.has(rows.get(id) ?? ""));
  const doneNeverExecuted = [...accepted].filter((id) => rows.get(id) === "DONE" && !executions.has(id));
  const executedMoreThanOnce = [...executions.values()].filter((n) => n > 1).length;
  const summary = {
    jobs: JOBS,
    kills: kills.length,
    accepted: accepted.size,
    done: byStatus("DONE"),
    failed: byStatus("FAILED"),
    cancelled: byStatus("CANCELLED"),
    lost: lost.length,
    executed_more_than_once: executedMoreThanOnce,
    extra_executions: [...executions.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0),
    done_never_executed: doneNeverExecuted.length,
    stored_rows: rows.size,
    submit_retries: submitErrors,
    jobs_running_at_each_kill: kills.map((k) => k.running),
    submit_phase_s: Math.round(submittedMs / 100) / 10,
    total_s: Math.round((Date.now() - started) / 100) / 10,
  };
  print(summary);
  if (args.keep) process.stdout.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
  if (lost.length > 0 || doneNeverExecuted.length > 0) process.exitCode = 1;
}

function readJobs(dbFile: string): Map<string, string> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const rows = db.prepare("SELECT id, status FROM jobs").all() as { id: string; status: string }[];
    return new Map(rows.map((r) => [r.id, r.status]));
  } finally {
    db.close();
  }
}

function countRunning(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM jobs WHERE status = 'RUNNING'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function waitForQuiet(dbFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const db = new Database(dbFile, { readonly: true });
    const { n } = db.prepare("SELECT count(*) AS n FROM jobs WHERE status IN ('PENDING', 'RUNNING')").get() as { n: number };
    db.close();
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} jobs still PENDING or RUNNING after ${timeoutMs} ms`);
    await delay(250);
  }
}

/**
 * Executions per job id. Only whole lines count: a process killed in the middle of a write
 * leaves at most a last line without its newline, which is not a full id and is skipped.
 */
function countExecutions(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return counts;
  }
  const lines = text.split("\n");
  lines.pop();
  for (const line of lines) {
    if (!UUID_LINE.test(line)) continue;
    const id = line.slice(0, line.indexOf(" "));
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function print(summary: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(summary).map((k) => k.length));
  for (const [k, v] of Object.entries(summary)) process.stdout.write(`${k.padEnd(width)}  ${Array.isArray(v) ? v.join(" ") : String(v)}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

function positive(name: "jobs" | "concurrency" | "max-gap-ms"): number {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
  return n;
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos run failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
