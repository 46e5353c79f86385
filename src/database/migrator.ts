import {
  type DatabaseIntrospector,
  type Kysely,
  type MigrationResultSet,
  Migrator,
  NO_MIGRATIONS,
  PostgresAdapter,
  sql,
  type TableMetadata,
} from 'kysely';
import { migrations } from '../../db/migrations/index.js';

/**
 * The dated migrations of db/migrations, listed statically so bundlers and
 * test runners see them. On PostgreSQL the bookkeeping tables live in the
 * connection's current schema (search_path), so several deployments or test
 * runs can share one database in separate schemas.
 */
export async function createMigrator(db: Kysely<any>): Promise<Migrator> {
  const provider = { getMigrations: async () => migrations };
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return new Migrator({ db, provider });
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  return new Migrator({ db: schema ? seeingOnly(db, schema) : db, provider, migrationTableSchema: schema });
}

/**
 * Kysely's migrator asks whether its own tables exist by introspecting every
 * table of every schema, with a function call per column: slow on a database
 * that many schemas share, and it fails outright ("relation … does not
 * exist") when another schema drops a table meanwhile. It reads only the
 * names, so it is shown this schema's alone.
 */
function seeingOnly(db: Kysely<any>, schema: string): Kysely<any> {
  const introspection: DatabaseIntrospector = {
    async getSchemas() {
      const { rows } = await sql<{ name: string }>`select nspname as name from pg_namespace where nspname = ${schema}`.execute(
        db,
      );
      return rows;
    },
    async getTables() {
      const { rows } = await sql<{
        name: string;
      }>`select table_name as name from information_schema.tables where table_schema = ${schema}`.execute(db);
      return rows.map((r): TableMetadata => ({ name: r.name, schema, isView: false, columns: [] }));
    },
    async getMetadata() {
      return { tables: await this.getTables() };
    },
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === 'introspection') return introspection;
      const value = Reflect.get(target, property, target);
      // Kysely's methods read private fields: they must run on the instance itself.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function unwrap(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    throw new Error(`Migration ${failed} failed: ${reason}`);
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/**
 * Runs `work` on one connection without PostgreSQL's statement timeout: it
 * bounds requests (KEYGATE_STATEMENT_TIMEOUT_MS), while a migration building
 * an index over a large table may rightly take minutes. The connection gets
 * its own setting back before it returns to the pool. SQLite has no such
 * timeout: `work` gets `db` itself.
 */
export async function withoutStatementTimeout<T>(db: Kysely<any>, work: (db: Kysely<any>) => Promise<T>): Promise<T> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return work(db);
  return db.connection().execute(async (connection) => {
    await sql`set statement_timeout = 0`.execute(connection);
    try {
      return await work(connection);
    } finally {
      await sql`reset statement_timeout`.execute(connection);
    }
  });
}

const unbounded = <T>(db: Kysely<any>, migrate: (migrator: Migrator) => Promise<T>) =>
  withoutStatementTimeout(db, async (connection) => migrate(await createMigrator(connection)));

/** Brings the database to the latest schema; returns the migrations applied. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return unwrap(await unbounded(db, (migrator) => migrator.migrateToLatest()));
}

/** Undoes every migration (tests prove each `down` works). */
export async function migrateDownToZero(db: Kysely<any>): Promise<string[]> {
  return unwrap(await unbounded(db, (migrator) => migrator.migrateTo(NO_MIGRATIONS)));
}
