import type { Job } from "../../client/src/taskq-client";

const BAR_WIDTH = 24;

/**
 * Shows a job's state while the CLI waits, on stderr (stdout carries only the final JSON).
 * On a terminal: one line redrawn in place, with a bar. Elsewhere (pipes, CI logs): one plain
 * line each time the status or progress changes.
 */
export class ProgressDisplay {
  private lastLine = "";
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(job: Job): void {
    const line = describe(job);
    if (line === this.lastLine) return;
    this.lastLine = line;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${bar(job)} ${line}`);
      this.drawn = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }

  /** Ends the redrawn line so whatever follows starts on its own. */
  done(): void {
    if (this.drawn) this.out.write("\n");
    this.drawn = false;
  }
}

function describe(job: Job): string {
  const parts: string[] = [job.status];
  const p = job.progress;
  if (typeof p === "number") parts.push(`${p}%`);
  else if (p !== null && p !== undefined) parts.push(JSON.stringify(p));
  parts.push(`attempt ${job.attempts}/${job.max_attempts}`);
  if (job.status === "FAILED" && job.error) parts.push(`${job.error.name}: ${job.error.message}`);
  return parts.join("  ");
}

function bar(job: Job): string {
  const pct = job.status === "DONE" ? 100 : typeof job.progress === "number" ? Math.max(0, Math.min(100, job.progress)) : 0;
  const filled = Math.round((pct / 100) * BAR_WIDTH);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
}
