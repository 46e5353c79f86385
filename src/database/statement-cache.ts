import type BetterSqlite3 from 'better-sqlite3';

/** Prepared statements kept per SQLite connection; the least recently used go first. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * SQLite's prepare is a parse and plan each time. Keeping prepared
 * statements by SQL text makes a repeated query (the key lookup, an activity
 * batch, a page of keys) cost only its execution. A statement still
 * iterating (streamed results) is never handed out twice: it gets a fresh,
 * uncached one.
 */
export function cachedPrepare(sqlite: BetterSqlite3.Database): (sql: string) => BetterSqlite3.Statement {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return (sql) => {
    const cached = statements.get(sql);
    if (cached && !cached.busy) {
      // Least recently used goes first: re-insert to mark it used.
      statements.delete(sql);
      statements.set(sql, cached);
      return cached;
    }
    const statement = sqlite.prepare(sql);
    if (!cached) {
      statements.set(sql, statement);
      if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
    }
    return statement;
  };
}
