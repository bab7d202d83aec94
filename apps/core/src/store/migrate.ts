import { dialectOf } from "./database";
import { migratePostgres } from "./postgresql/migrate";
import { migrateSqlite } from "./sqlite/migrate";

/**
 * Applies the SQL files under prisma/<dialect>/migrations (migrations.ts), in name order, each
 * recorded in Prisma's own _prisma_migrations table (so `prisma migrate status` agrees). Ours
 * rather than `prisma migrate deploy` because that fails on PostgreSQL with the JS schema engine
 * (prisma/orm#27403), and one code path serves both dialects.
 *
 * Safe when several processes start at once: SQLite takes the write lock first
 * (BEGIN IMMEDIATE), PostgreSQL a session advisory lock.
 */
export async function migrate(url: string, options: { busyTimeoutMs: number }): Promise<string[]> {
  return dialectOf(url) === "sqlite" ? migrateSqlite(url, options.busyTimeoutMs) : migratePostgres(url);
}
