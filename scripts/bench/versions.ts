import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The installed version of each package, for the record a bench writes. */
export function packageVersions(root: string, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    names.map((n) => [n, (JSON.parse(readFileSync(join(root, "node_modules", n, "package.json"), "utf8")) as { version: string }).version]),
  );
}
