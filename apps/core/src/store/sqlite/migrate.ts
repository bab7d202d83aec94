import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { sqlitePath } from "../database";
import { assertUnchanged, readMigrations } from "../migrations";
import { sqliteMigrationStatements as sql } from "./statements";

/** Applies what is missing in one transaction that takes the write lock first (BEGIN IMMEDIATE), so processes starting together take turns. */
export function migrateSqlite(url: string, busyTimeoutMs: number): string[] {
  const path = sqlitePath(url);
  mkdirSync(dirname(path), { recursive: true });
  const db = new BetterSqlite3(path, { timeout: busyTimeoutMs });
  try {
    db.pragma("journal_mode = WAL");
    const applied: string[] = [];
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(sql.createHistory);
      const done = new Map((db.prepare(sql.applied).all() as { migration_name: string; checksum: string }[]).map((r) => [r.migration_name, r.checksum]));
      for (const m of readMigrations("sqlite")) {
        if (done.has(m.name)) {
          assertUnchanged(m, done.get(m.name)!);
          continue;
        }
        db.exec(m.sql);
        db.prepare(sql.record).run(randomUUID(), m.checksum, m.name);
        applied.push(m.name);
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return applied;
  } finally {
    db.close();
  }
}
