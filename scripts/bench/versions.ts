import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The installed version of each package, for the record a bench writes. */
export function packageVersions(root: string, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    names.map((n) => [n, (JSON.parse(readFileSync(join(root, "node_modules", n, "package.json"), "utf8")) as { version: string }).version]),
  );
}

/** The commit measured, marked `+changes` when tracked files differ from it. */
export function gitCommit(root: string): string {
  try {
    const head = execSync("git rev-parse --short HEAD", { cwd: root }).toString().trim();
    const dirty = execSync("git status --porcelain --untracked-files=no", { cwd: root }).toString().trim() !== "";
    return dirty ? `${head}+changes` : head;
  } catch {
    return "unknown";
  }
}
