import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Client as PgClient } from "pg";
import { projectRoot } from "../paths";
import { type Dialect, dialectOf, postgresConnection, postgresSchema, quoteIdent, sqlitePath } from "./database";

/**
 * Applies the SQL files under prisma/<dialect>/migrations, in name order, each in its own
 * transaction, recorded in Prisma's own _prisma_migrations table (so `prisma migrate status`
 * agrees). Ours rather than `prisma migrate deploy` because that fails on PostgreSQL with the
 * JS schema engine (prisma/orm#27403), and one code path serves both dialects.
 *
 * Safe when several processes start at once: SQLite takes the write lock first
 * (BEGIN IMMEDIATE), PostgreSQL a session advisory lock.
 */
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

export async function migrate(url: string, options: { busyTimeoutMs: number }): Promise<string[]> {
  return dialectOf(url) === "sqlite" ? migrateSqlite(url, options.busyTimeoutMs) : migratePostgres(url);
}

const SQLITE_HISTORY = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" TEXT PRIMARY KEY NOT NULL,
  "checksum" TEXT NOT NULL,
  "finished_at" DATETIME,
  "migration_name" TEXT NOT NULL,
  "logs" TEXT,
  "rolled_back_at" DATETIME,
  "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
  "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

function migrateSqlite(url: string, busyTimeoutMs: number): string[] {
  const path = sqlitePath(url);
  mkdirSync(dirname(path), { recursive: true });
  const db = new BetterSqlite3(path, { timeout: busyTimeoutMs });
  try {
    db.pragma("journal_mode = WAL");
    const applied: string[] = [];
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(SQLITE_HISTORY);
      const done = new Map(
        (db.prepare(`SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`).all() as {
          migration_name: string;
          checksum: string;
        }[]).map((r) => [r.migration_name, r.checksum]),
      );
      for (const m of readMigrations("sqlite")) {
        if (done.has(m.name)) {
          assertUnchanged(m, done.get(m.name)!);
          continue;
        }
        db.exec(m.sql);
        db.prepare(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
           VALUES (?, ?, current_timestamp, ?, current_timestamp, 1)`,
        ).run(randomUUID(), m.checksum, m.name);
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

const POSTGRES_HISTORY = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/** Per schema, so that test files (one schema each) migrate in parallel while processes sharing a schema take turns. */
const MIGRATION_LOCK = "SELECT pg_advisory_lock(hashtextextended($1, 0))";
const MIGRATION_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";

async function migratePostgres(url: string): Promise<string[]> {
  const lockName = `taskq:migrate:${postgresSchema(url)}`;
  const client = new PgClient(postgresConnection(url));
  await client.connect();
  try {
    // The lock comes first: CREATE SCHEMA IF NOT EXISTS itself races (a unique violation) when
    // two processes create the same schema at once.
    await client.query(MIGRATION_LOCK, [lockName]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(postgresSchema(url))}`);
    try {
      await client.query(POSTGRES_HISTORY);
      const { rows } = await client.query<{ migration_name: string; checksum: string }>(
        `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
      );
      const done = new Map(rows.map((r) => [r.migration_name, r.checksum]));
      const applied: string[] = [];
      for (const m of readMigrations("postgresql")) {
        if (done.has(m.name)) {
          assertUnchanged(m, done.get(m.name)!);
          continue;
        }
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count)
             VALUES ($1, $2, now(), $3, now(), 1)`,
            [randomUUID(), m.checksum, m.name],
          );
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK");
          throw error;
        }
        applied.push(m.name);
      }
      return applied;
    } finally {
      await client.query(MIGRATION_UNLOCK, [lockName]);
    }
  } finally {
    await client.end();
  }
}

function assertUnchanged(m: Migration, recorded: string): void {
  if (recorded !== m.checksum) {
    throw new Error(`Migration ${m.name} was edited after it was applied (checksum differs); add a new migration instead`);
  }
}
