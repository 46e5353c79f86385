import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  Kysely,
  type Dialect as KyselyDialect,
  type LogEvent,
  PostgresDialect,
  SqliteAdapter,
  type SqliteDatabase,
  type SqliteDialectConfig,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { Database } from './database.js';

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Counts statements sent to the database; tests use it to prove batching. */
  stats: { statements: number };
  /** Calls `listener` with the SQL and parameters of every statement until the returned function is called. */
  observe(listener: (sql: string, parameters: readonly unknown[]) => void): () => void;
  /** Human description without credentials, for logs and errors. */
  description: string;
  /** A dedicated connection outside the pool (PostgreSQL LISTEN); undefined on SQLite. */
  dedicatedClient?: () => Promise<import('pg').Client>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** `file:<path>`, a bare path, `:memory:`, or `postgres://…`. */
  url: string;
  poolSize?: number;
  /** Errors of idle pooled connections (a restarted server, say); the pool replaces them by itself. */
  onPoolError?: (error: Error) => void;
}

/** How long to wait for a PostgreSQL connection before failing the request (no hanging). */
const CONNECT_TIMEOUT_MS = 3000;
/** Longest a single statement may run before the request fails. */
const QUERY_TIMEOUT_MS = 15_000;

/** The one place where the dialect is chosen from the database URL. */
export async function connectDatabase({ url, poolSize = 10, onPoolError }: ConnectOptions): Promise<DatabaseHandle> {
  const stats = { statements: 0 };
  const listeners = new Set<(sql: string, parameters: readonly unknown[]) => void>();
  const log = (event: LogEvent) => {
    stats.statements++;
    for (const listener of listeners) listener(event.query.sql, event.query.parameters);
  };
  const observe = (listener: (sql: string, parameters: readonly unknown[]) => void) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };

  if (/^postgres(ql)?:\/\//.test(url)) {
    const pg = (await import('pg')).default;
    // Keep timestamps as ISO strings on both dialects so rows look the same everywhere.
    pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => new Date(v).toISOString());
    // JSON columns come back as text, as on SQLite; repositories parse them.
    pg.types.setTypeParser(pg.types.builtins.JSONB, (v) => v);
    const pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
    });
    pool.on('error', (error) => onPoolError?.(error));
    // A connection can also die while checked out between statements; without a listener its
    // 'error' event would crash the process. The failing statement still rejects on its own.
    pool.on('connect', (client) => client.on('error', (error) => onPoolError?.(error)));
    // Never the password: only host and database name are ever shown.
    const parsed = new URL(url);
    const description = `postgres://${parsed.host}${parsed.pathname}`;
    try {
      const client = await pool.connect();
      client.release();
    } catch (error) {
      await pool.end().catch(() => {});
      throw new Error(`Cannot connect to PostgreSQL at ${parsed.host}: ${(error as Error).message}`);
    }
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
    const dedicatedClient = async () => {
      // TCP keep-alive, beside the heartbeat (notifications.ts): the kernel notices a dead peer too.
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
      await client.connect();
      return client;
    };
    return { db, dialect: 'postgres', stats, observe, description, dedicatedClient, close: () => db.destroy() };
  }

  const Sqlite = (await import('better-sqlite3')).default;
  const file = url.replace(/^file:/, '') || ':memory:';
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new Sqlite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: immediateTransactions({ database: withStatementCache(sqlite) }), log });
  return { db, dialect: 'sqlite', stats, observe, description: `sqlite:${file}`, close: () => db.destroy() };
}

/** Prepared statements kept per SQLite database; the least recently used go first. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every statement anew; SQLite's prepare is a parse and plan
 * each time. Keeping prepared statements by SQL text makes a repeated query
 * (the key lookup, an activity batch) cost only its execution. A statement
 * still iterating (streamed results) is never handed out twice.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql) {
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
    },
  };
}

/**
 * SQLite transactions that take the write lock up front (BEGIN IMMEDIATE).
 * A deferred transaction that reads, then writes, can fail at once with
 * "database is locked" when another process (a second CLI command, say)
 * writes meanwhile; an immediate one waits for the lock (busy_timeout).
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

function immediateTransactions(config: SqliteDialectConfig): KyselyDialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new ImmediateSqliteDriver(config),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  };
}
