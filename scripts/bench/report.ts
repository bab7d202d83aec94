import type { Measured, Stages } from "./stages";

type Result<K extends keyof Stages> = Stages[K] extends (...args: never[]) => Promise<infer R> ? R : never;

/** What each stage returned; a stage left out with --only is absent. */
export interface Figures {
  ceiling?: Result<"ceiling">;
  submit?: Result<"submit">;
  bulk?: Result<"bulk">;
  drain?: Result<"drain">;
  e2e?: { single: Result<"endToEnd">; batch: Result<"endToEnd"> };
  pickup?: Result<"pickup">;
  cpu?: Result<"cpuScaling">;
  backlog?: Result<"backlog">;
}

export interface Row {
  stage: string;
  figure: string;
  value: string;
  target: string;
  /** null when the row has no target. */
  met: boolean | null;
}

const n0 = (v: number) => Math.round(v).toLocaleString("en-US");
const ms = (v: number) => `${v.toFixed(2)} ms`;

/** "main / other / load generator µs per request (cores used)", or "?" where CPU time could not be read. */
function cpuCell(m: Measured): string {
  const c = m.cpuPerRequest;
  if (!c) return "?";
  const cores = ((c.serverMainUs + c.serverOtherUs + c.loadGeneratorUs) * m.okPerSecond) / 1e6;
  return `${n0(c.serverMainUs)} / ${n0(c.serverOtherUs)} / ${n0(c.loadGeneratorUs)} µs (${cores.toFixed(2)} cores)`;
}
const CPU_FIGURE = "CPU per request: server main thread / rest of server / load generator";

/** The figures as table rows, each with its target from issue 4 and whether it was met. */
export function buildReport(raw: Record<string, unknown>): Row[] {
  const f = raw as Figures;
  const rows: Row[] = [];
  const add = (stage: string, figure: string, value: string, target = "", met: boolean | null = null) => rows.push({ stage, figure, value, target, met });

  if (f.ceiling) {
    add("ceiling", "bare Express 5, 64 conns: req/s", n0(f.ceiling.okPerSecond));
    add("ceiling", "latency p50 / p99", `${ms(f.ceiling.latencyP50Ms)} / ${ms(f.ceiling.latencyP99Ms)}`);
    add("ceiling", CPU_FIGURE, cpuCell(f.ceiling));
  }
  if (f.submit) {
    const s = f.submit;
    const ratio = f.ceiling ? s.okPerSecond / f.ceiling.okPerSecond : null;
    add("submit", "POST /jobs, 64 conns: accepted jobs/s", n0(s.okPerSecond), "≥ 70% of ceiling", ratio === null ? null : ratio >= 0.7);
    if (ratio !== null) add("submit", "share of the ceiling", `${(ratio * 100).toFixed(0)}%`);
    const p99Limit = f.ceiling ? 1.5 * f.ceiling.latencyP99Ms : null;
    add("submit", "latency p50 / p99", `${ms(s.latencyP50Ms)} / ${ms(s.latencyP99Ms)}`, p99Limit === null ? "p99 ≤ 1.5× ceiling" : `p99 ≤ ${ms(p99Limit)}`, p99Limit === null ? null : s.latencyP99Ms <= p99Limit);
    add("submit", CPU_FIGURE, cpuCell(s));
    const ofCeiling = (m: Measured) => (f.ceiling ? ` (${((m.okPerSecond / f.ceiling.okPerSecond) * 100).toFixed(0)}% of the ceiling)` : "");
    add("submit", "same load, ROLE=api (no worker in the process): jobs/s", `${n0(s.apiOnly.okPerSecond)}${ofCeiling(s.apiOnly)}`);
    add("submit", `… ${CPU_FIGURE}`, cpuCell(s.apiOnly));
    add("submit", "same load, ROLE=api with a ROLE=worker process beside it: jobs/s", `${n0(s.apiBesideWorker.okPerSecond)}${ofCeiling(s.apiBesideWorker)}`);
    add("submit", `… ${CPU_FIGURE} (the worker process is in the rest)`, cpuCell(s.apiBesideWorker));
    add("submit", "non-2xx / errors; rows stored vs 202s", `${s.non2xx} / ${s.errors}; ${n0(s.stored)} vs ${n0(s.ok + s.warmupOk)}`, "every 202 stored", s.stored >= s.ok + s.warmupOk);
  }
  if (f.bulk) add("bulk", "POST /jobs/batch ×1,000, 4 conns: jobs/s", n0(f.bulk.jobsPerSecond), "≥ 50,000", f.bulk.jobsPerSecond >= 50_000);
  if (f.drain) {
    add("drain", `${n0(f.drain.jobs)} stored noop jobs → DONE: jobs/s`, n0(f.drain.jobsPerSecond), "≥ 20,000", f.drain.jobsPerSecond >= 20_000);
    add("drain", "peak RSS", `${f.drain.peakRssMb ?? "?"} MB`);
  }
  if (f.e2e) {
    const { single, batch } = f.e2e;
    add("e2e", `${n0(batch.jobs)} jobs, batch of 100: jobs/s`, n0(batch.jobsPerSecond), "≥ 10,000", batch.jobsPerSecond >= 10_000);
    const share = f.submit ? single.jobsPerSecond / f.submit.okPerSecond : null;
    add("e2e", `${n0(single.jobs)} jobs, one per request: jobs/s`, n0(single.jobsPerSecond), "≥ 70% of submit", share === null ? null : share >= 0.7);
    if (share !== null) add("e2e", "share of submit", `${(share * 100).toFixed(0)}%`);
  }
  if (f.pickup) {
    const p = f.pickup;
    add("pickup", "submit → RUNNING p50 / p99", `${ms(p.toRunningMs.p50)} / ${ms(p.toRunningMs.p99)}`, "≤ 1.5 ms / ≤ 5 ms", p.toRunningMs.p50 <= 1.5 && p.toRunningMs.p99 <= 5);
    add("pickup", "submit → DONE p50 / p99", `${ms(p.toDoneMs.p50)} / ${ms(p.toDoneMs.p99)}`);
  }
  if (f.cpu) {
    const rounds = f.cpu.speedUpPerRound.length;
    add("cpu", `${f.cpu.jobs} hash jobs: 1 thread / 2 threads (median of ${rounds} alternated rounds)`, `${f.cpu.oneThreadS.toFixed(2)} s / ${f.cpu.twoThreadsS.toFixed(2)} s`);
    add("cpu", "speed-up (each round's)", `${f.cpu.speedUp.toFixed(2)}× (${f.cpu.speedUpPerRound.map((x) => x.toFixed(2)).join(", ")})`, "≥ 1.8×", f.cpu.speedUp >= 1.8);
    const cores = (c: number | null) => (c === null ? "?" : c.toFixed(2));
    add("cpu", "cores' worth of CPU the service got: 1 / 2 threads", `${cores(f.cpu.oneThreadCores)} / ${cores(f.cpu.twoThreadsCores)}`);
    add("cpu", "same work on bare worker threads (no taskq): speed-up", `${f.cpu.bareThreadsSpeedUp.toFixed(2)}×`);
  }
  if (f.backlog) {
    const b = f.backlog;
    const us = (v: number) => `${v.toFixed(0)} µs`;
    add("backlog", `io claim of ${b.claimLimit}: ${n0(b.small.rows)} PENDING, median / p99`, `${us(b.small.claimMedianUs)} / ${us(b.small.claimP99Us)}`);
    add("backlog", `io claim of ${b.claimLimit}: ${n0(b.large.rows)} PENDING, median / p99`, `${us(b.large.claimMedianUs)} / ${us(b.large.claimP99Us)}`);
    add("backlog", "claim cost large / small", `${b.ratio.toFixed(2)}×`, "≤ 1.5×", b.ratio <= 1.5);
    add("backlog", "empty cpu claim: small / large", `${us(b.small.emptyClaimMedianUs)} / ${us(b.large.emptyClaimMedianUs)}`, "≤ 1.5×", b.emptyRatio <= 1.5);
    add("backlog", `drain with ${n0(b.small.rows)} / ${n0(b.large.rows)} PENDING: jobs/s`, `${n0(b.small.drainJobsPerSecond)} / ${n0(b.large.drainJobsPerSecond)}`);
    add("backlog", `GET /metrics (counts jobs by status) with ${n0(b.small.rows)} / ${n0(b.large.rows)} jobs: median`, `${ms(b.small.scrapeMedianMs)} / ${ms(b.large.scrapeMedianMs)}`);
    add("backlog", `peak RSS with ${n0(b.large.rows)} PENDING`, `${b.large.peakRssMb ?? "?"} MB`, "< 300 MB", b.large.peakRssMb === null ? null : b.large.peakRssMb < 300);
  }
  return rows;
}

export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.stage, r.figure, r.value, r.target, r.met === null ? "" : r.met ? "met" : "MISSED"]);
  const header = ["stage", "figure", "value", "target", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}
