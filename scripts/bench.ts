import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../apps/core/src/paths";
import { serviceEnv } from "./bench/child-process";
import { onlyOption } from "./bench/only-option";
import { buildReport, formatTable } from "./bench/report";
import { gitCommit, packageVersions } from "./bench/versions";
import { FULL, QUICK, type BenchSizes, Stages } from "./bench/stages";

/**
 * `npm run bench [-- --quick] [-- --only submit,drain]`: starts the service as a user would
 * (node dist/apps/service/src/main.js, all-in-one, SQLite, defaults apart from PORT and a
 * fresh database file), loads it over HTTP, prints one table and writes
 * bench-results/<timestamp>.json.
 */
const STAGES = ["ceiling", "submit", "bulk", "drain", "e2e", "pickup", "cpu", "backlog"] as const;
type StageName = (typeof STAGES)[number];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const only = onlyOption(args, STAGES);
  const sizes: BenchSizes = quick ? QUICK : FULL;
  const root = projectRoot();
  const dataDir = join(root, "data", `bench-${process.pid}`);
  const stages = new Stages(sizes, dataDir);

  process.stdout.write(
    `taskq bench${quick ? " (quick)" : ""}: service = node dist/apps/service/src/main.js, ` +
      `env ${JSON.stringify(serviceEnv(0, "<fresh>.db"))} (LOG_LEVEL=warn keeps logging off the measurement; ` +
      `NODE_ENV=production makes logs JSON), all other settings default.\n`,
  );
  const figures: Record<string, unknown> = {};
  const started = Date.now();
  const loadAverageAtStart = loadavg();
  try {
    for (const name of only) {
      const t = Date.now();
      process.stdout.write(`  ${name} …`);
      figures[name] = await runStage(stages, name);
      process.stdout.write(` ${((Date.now() - t) / 1_000).toFixed(1)} s  ${JSON.stringify(figures[name], round)}\n`);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }

  const report = buildReport(figures);
  process.stdout.write(`\n${formatTable(report)}\n`);
  process.stdout.write(`\nload average (1 min) at start ${loadAverageAtStart[0]!.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores\n`);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = join(root, "bench-results", `${stamp}.json`);
  mkdirSync(join(root, "bench-results"), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        quick,
        stages: only,
        wallSeconds: (Date.now() - started) / 1_000,
        machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryMb: Math.round(totalmem() / 2 ** 20), kernel: release(), loadAverageAtStart, loadAverageAtEnd: loadavg() },
        node: process.version,
        packages: packageVersions(root, ["express", "@prisma/client", "@prisma/adapter-better-sqlite3", "better-sqlite3", "piscina", "winston", "zod", "autocannon"]),
        commit: gitCommit(root),
        serviceEnv: serviceEnv(0, "<fresh>.db"),
        sizes,
        rows: report,
        figures,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nwritten to ${out}\n`);
}

function runStage(stages: Stages, name: StageName): Promise<unknown> {
  switch (name) {
    case "ceiling":
      return stages.ceiling();
    case "submit":
      return stages.submit();
    case "bulk":
      return stages.bulk();
    case "drain":
      return stages.drain();
    case "e2e":
      return (async () => ({ single: await stages.endToEnd("single"), batch: await stages.endToEnd("batch") }))();
    case "pickup":
      return stages.pickup();
    case "cpu":
      return stages.cpuScaling();
    case "backlog":
      return stages.backlog();
  }
}

/** Progress lines stay short: figures to three significant digits, no query plans. */
function round(key: string, value: unknown): unknown {
  if (key === "plan") return undefined;
  return typeof value === "number" && !Number.isInteger(value) ? Number(value.toPrecision(3)) : value;
}

main().catch((error: unknown) => {
  process.stderr.write(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
