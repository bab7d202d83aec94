import { resolve } from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "../generated/sqlite/client";
import { PrismaClient as PostgresClient } from "../generated/postgresql/client";
import { SqliteWriter } from "./sqlite/writer";

export type Dialect = "sqlite" | "postgresql";

/**
 * Both generated clients expose the same model API (one models.prisma); the store is written
 * once against the SQLite client's type and the PostgreSQL client is used through it.
 */
export type Prisma = SqliteClient;

export interface Database {
  readonly dialect: Dialect;
  readonly url: string;
  readonly prisma: Prisma;
  /** PostgreSQL only: the schema the tables live in (search_path). */
  readonly schema?: string;
  /**
   * SQLite only: a connection of our own, on a thread of its own (SqliteWriter), that runs the
   * Statements and the signal writes as cached prepared statements (runDirect), and so carries
   * every write of the hot path. Through Prisma the same statement costs a prepare and the query
   * engine on every call (0.5 ms for the claim, 1.2 ms for a settle, measured). Prisma's own
   * writes (cancel, retry, delete) run on this thread and may wait, in SQLite's busy handler, for
   * a writer statement to commit (a batch of 1,000 rows: ~10 ms); an interactive Prisma
   * transaction, holding the lock across an await, would make the writer wait in turn — do not
   * use one on SQLite.
   */
  readonly writer?: SqliteWriter;
}

export function dialectOf(url: string): Dialect {
  return url.startsWith("file:") ? "sqlite" : "postgresql";
}

/** Absolute path of a file: URL; relative paths are relative to the working directory. */
export function sqlitePath(url: string): string {
  return resolve(url.replace(/^file:/, "").replace(/\?.*$/, ""));
}

/** The PostgreSQL schema named by `?schema=` (Prisma's convention), default public. */
export function postgresSchema(url: string): string {
  return new URL(url).searchParams.get("schema") ?? "public";
}

export async function openDatabase(url: string, options: { busyTimeoutMs: number }): Promise<Database> {
  if (dialectOf(url) === "sqlite") {
    const path = sqlitePath(url);
    const prisma = new SqliteClient({ adapter: new PrismaBetterSQLite3({ url: path, timeout: options.busyTimeoutMs }) });
    // WAL lets readers run beside the writer; synchronous=NORMAL commits without an fsync per
    // transaction: a committed job survives a process crash, and an OS crash or power loss
    // can lose the last transactions (README, "Durability").
    await prisma.$queryRawUnsafe("PRAGMA journal_mode = WAL");
    await prisma.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
    await prisma.$queryRawUnsafe(`PRAGMA busy_timeout = ${options.busyTimeoutMs}`);
    // The writer's checkpointer thread checkpoints (SqliteWriter): a cancel committed here must
    // not run one on the event loop.
    await prisma.$queryRawUnsafe("PRAGMA wal_autocheckpoint = 0");
    const writer = await SqliteWriter.open({ path, busyTimeoutMs: options.busyTimeoutMs });
    return { dialect: "sqlite", url, prisma, writer };
  }
  const schema = postgresSchema(url);
  // Prisma qualifies model queries with `schema`; raw SQL (the claim, the settle…) finds its
  // tables through search_path, set for every pooled connection at connect time.
  const client = new PostgresClient({ adapter: new PrismaPg(postgresConnection(url), { schema }) });
  return { dialect: "postgresql", url, prisma: client as unknown as Prisma, schema };
}

/**
 * pg connection settings for a DATABASE_URL. `?schema=` and `?connection_limit=` are Prisma's
 * parameters, not libpq's: the schema becomes each session's search_path (added to any
 * `options` the URL carries) and the limit the pool size (pg's default: 10 per process).
 */
export function postgresConnection(url: string): { connectionString: string; options: string; max?: number } {
  const u = new URL(url);
  const schema = postgresSchema(url);
  const limit = u.searchParams.get("connection_limit");
  const options = [u.searchParams.get("options"), `-c search_path=${quoteIdent(schema)}`].filter(Boolean).join(" ");
  for (const name of ["schema", "connection_limit", "options"]) u.searchParams.delete(name);
  if (limit !== null && !/^[1-9]\d*$/.test(limit)) throw new Error(`DATABASE_URL: connection_limit must be a positive whole number, got ${JSON.stringify(limit)}`);
  return { connectionString: u.toString(), options, ...(limit !== null && { max: Number(limit) }) };
}

/** A schema name as an SQL identifier; the names the URL may carry are restricted so this needs no escaping in a startup option. */
export function quoteIdent(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`DATABASE_URL: schema ${JSON.stringify(schema)} must be 1–63 letters, digits or underscores, not starting with a digit`);
  }
  return `"${schema}"`;
}
