import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMigrationProvider, type Kysely, type MigrationResultSet, Migrator } from 'kysely';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../db/migrations', import.meta.url));

/** Dated migration files in db/migrations; helper modules there (no `up`) are skipped. */
class MigrationFolder extends FileMigrationProvider {
  constructor() {
    super({ fs, path, migrationFolder: MIGRATIONS_DIR });
  }
  override async getMigrations() {
    const all = await super.getMigrations();
    return Object.fromEntries(Object.entries(all).filter(([name]) => /^\d{4}-\d{2}-\d{2}T/.test(name)));
  }
}

export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: new MigrationFolder() });
}

function unwrap(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Migration ${failed} failed: ${(result.error as Error).message ?? result.error}`);
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/** Brings the database to the latest schema; returns the migrations applied. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return unwrap(await createMigrator(db).migrateToLatest());
}

/** Undoes every migration (tests prove each `down` works). */
export async function migrateDownToZero(db: Kysely<any>): Promise<string[]> {
  const { NO_MIGRATIONS } = await import('kysely');
  return unwrap(await createMigrator(db).migrateTo(NO_MIGRATIONS));
}
