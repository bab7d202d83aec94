import type BetterSqlite3 from "better-sqlite3";

/**
 * A statement written with `$1 … $n` (as in PostgreSQL) in SQLite's positional form:
 * `$2 … $1 … $2` becomes `? … ? … ?` bound in the order [2, 1, 2], as better-sqlite3 binds
 * arrays by position only.
 */
export function toPositional(sql: string): { text: string; order: number[] } {
  const order: number[] = [];
  const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
    order.push(Number(n));
    return "?";
  });
  return { text, order };
}

const preparedByConnection = new WeakMap<BetterSqlite3.Database, Map<string, { statement: BetterSqlite3.Statement; order: number[] }>>();

/**
 * Runs a `$n` statement on a better-sqlite3 connection, prepared once per connection (see
 * toPositional). Returns the rows of a statement that returns any, else the run's result.
 */
export function runDirect<T>(direct: BetterSqlite3.Database, sql: string, args: readonly unknown[]): T {
  let prepared = preparedByConnection.get(direct);
  if (!prepared) preparedByConnection.set(direct, (prepared = new Map()));
  let cached = prepared.get(sql);
  if (!cached) {
    const { text, order } = toPositional(sql);
    cached = { statement: direct.prepare(text), order };
    prepared.set(sql, cached);
  }
  const params = cached.order.map((i) => args[i - 1]);
  return (cached.statement.reader ? cached.statement.all(...params) : cached.statement.run(...params)) as T;
}
