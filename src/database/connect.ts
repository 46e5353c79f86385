import fs from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  Kysely,
  type Dialect as KyselyDialect,
  type LogEvent,
  PostgresDialect,
  type SchemaMetadata,
  SqliteAdapter,
  type SqliteDatabase,
  type SqliteDialectConfig,
  SqliteDriver,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
  type TableMetadata,
} from 'kysely';
import { Checkpointer } from './checkpointer.js';
import type { Database } from './database.js';
import { onMainDatabase, ReaderPool, Reads } from './reader.js';
import { cachedPrepare } from './statement-cache.js';

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
  /** Where heavy list and count reads run: reader processes on a SQLite file, else the database itself (reader.ts). */
  reads: Reads;
  /** The WAL checkpoints' worker thread of a SQLite file (checkpointer.ts); absent elsewhere. */
  checkpointer?: Checkpointer | null;
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
  /**
   * Longest a statement may run: PostgreSQL cancels it (57014, answered 503
   * by the error funnel); on a SQLite file it bounds the reads that run in
   * reader processes. SQLite's main connection has no such bound.
   */
  statementTimeoutMs?: number;
  /** Reader processes for a SQLite file's heavy reads (reader.ts). */
  sqliteReaders?: number;
  /** Reads that may wait for a SQLite reader before more are refused. */
  sqliteReadQueue?: number;
}

/** Defaults of the bounds above; README "Configuration" lists them. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;
export const DEFAULT_SQLITE_READERS = 2;
export const DEFAULT_SQLITE_READ_QUEUE = 256;

/** How long to wait for a PostgreSQL connection before failing the request (no hanging). */
const CONNECT_TIMEOUT_MS = 3000;
/**
 * pg's own timer on every query, for when the server stops answering at all
 * (a dead network): the server's statement_timeout cancels a slow statement
 * cleanly first, so this waits longer than it.
 */
const QUERY_TIMEOUT_MS = 15_000;
const QUERY_TIMEOUT_MARGIN_MS = 5000;

/** The one place where the dialect is chosen from the database URL. */
export async function connectDatabase({
  url,
  poolSize = 10,
  onPoolError,
  statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS,
  sqliteReaders = DEFAULT_SQLITE_READERS,
  sqliteReadQueue = DEFAULT_SQLITE_READ_QUEUE,
}: ConnectOptions): Promise<DatabaseHandle> {
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
      // Sent at connection start: every statement of every pooled connection is bounded server-side.
      statement_timeout: statementTimeoutMs,
      query_timeout: Math.max(QUERY_TIMEOUT_MS, statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS),
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
    const db = new Kysely<Database>({ dialect: currentSchemaOnly(new PostgresDialect({ pool })), log });
    const dedicatedClient = async () => {
      // TCP keep-alive, beside the heartbeat (notifications.ts): the kernel notices a dead peer too.
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
      await client.connect();
      return client;
    };
    const reads = new Reads(onMainDatabase(db), 'postgres');
    return { db, dialect: 'postgres', stats, observe, description, reads, dedicatedClient, close: () => db.destroy() };
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
  // A file's WAL checkpoints run on a worker thread, not inside a request's commit (checkpointer.ts).
  const checkpointer = file === ':memory:' ? null : new Checkpointer(sqlite, path.resolve(file));
  // An in-memory database lives inside this one connection: no reader process could open it (reader.ts).
  const reads =
    file === ':memory:'
      ? new Reads(onMainDatabase(db), 'sqlite')
      : new Reads(
          new ReaderPool({ file: path.resolve(file), readers: sqliteReaders, queueLimit: sqliteReadQueue, statementTimeoutMs }),
          'sqlite',
          log,
        );
  const close = async () => {
    await reads.close();
    await checkpointer?.close();
    await db.destroy();
  };
  return { db, dialect: 'sqlite', stats, observe, description: `sqlite:${file}`, reads, checkpointer, close };
}

/** The SQLite connection Kysely drives, preparing each SQL text once (see statement-cache.ts). */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  return { close: () => sqlite.close(), prepare: cachedPrepare(sqlite) };
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

/**
 * PostgreSQL's dialect with an introspector that lists only the
 * connection's current schema (search_path). Kysely's own lists every
 * table of every schema, and its migrator asks on every start whether its
 * bookkeeping tables exist: on a database that holds other deployments'
 * (or test runs') schemas that is slow, and fails when one of them is
 * dropped meanwhile. Keygate's tables all live in the current schema.
 */
function currentSchemaOnly(dialect: PostgresDialect): KyselyDialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => dialect.createDriver(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => new CurrentSchemaIntrospector(db),
  };
}

class CurrentSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select current_schema() as name`.execute(this.db);
    return rows.filter((r) => r.name !== null);
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; is_view: boolean }>`
      select c.relname as name, n.nspname as schema, c.relkind in ('v', 'm') as is_view
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p', 'v', 'm')`.execute(this.db);
    // Column lists are left empty: nothing in Keygate reads them (the migrator needs only the names).
    return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.is_view, columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}
