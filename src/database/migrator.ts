import { type Kysely, type MigrationResultSet, Migrator, NO_MIGRATIONS, PostgresAdapter, sql } from 'kysely';
import { migrations } from '../../db/migrations/index.js';

/**
 * The dated migrations of db/migrations, listed statically so bundlers and
 * test runners see them. On PostgreSQL the bookkeeping tables live in the
 * connection's current schema (search_path), so several deployments or test
 * runs can share one database in separate schemas.
 */
export async function createMigrator(db: Kysely<any>): Promise<Migrator> {
  let migrationTableSchema: string | undefined;
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
    migrationTableSchema = rows[0]?.schema;
  }
  return new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema });
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
