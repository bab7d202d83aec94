import { randomUUID } from "node:crypto";
import { Client as PgClient } from "pg";
import { postgresConnection, postgresSchema, quoteIdent } from "../database";
import { assertUnchanged, readMigrations } from "../migrations";
import { postgresqlMigrationStatements as sql } from "./statements";

/** Applies what is missing, each migration in its own transaction, under a session advisory lock per schema. */
export async function migratePostgres(url: string): Promise<string[]> {
  const lockName = `taskq:migrate:${postgresSchema(url)}`;
  const client = new PgClient(postgresConnection(url));
  await client.connect();
  try {
    // The lock comes first: CREATE SCHEMA IF NOT EXISTS itself races (a unique violation) when
    // two processes create the same schema at once.
    await client.query(sql.lock, [lockName]);
    await client.query(sql.createSchema(quoteIdent(postgresSchema(url))));
    try {
      await client.query(sql.createHistory);
      const { rows } = await client.query<{ migration_name: string; checksum: string }>(sql.applied);
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
          await client.query(sql.record, [randomUUID(), m.checksum, m.name]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK");
          throw error;
        }
        applied.push(m.name);
      }
      return applied;
    } finally {
      await client.query(sql.unlock, [lockName]);
    }
  } finally {
    await client.end();
  }
}
