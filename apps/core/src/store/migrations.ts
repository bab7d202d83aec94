import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../paths";
import type { Dialect } from "./database";

/** One migration of prisma/<dialect>/migrations: its folder name, its SQL and the SQL's checksum. */
export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dialect: Dialect): Migration[] {
  const dir = join(projectRoot(), "prisma", dialect, "migrations");
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

export function assertUnchanged(m: Migration, recorded: string): void {
  if (recorded !== m.checksum) {
    throw new Error(`Migration ${m.name} was edited after it was applied (checksum differs); add a new migration instead`);
  }
}
