import { type Kysely, sql } from 'kysely';

/**
 * The category filter of `apiKeys` as one value a plan can seek and read in
 * order, whatever the planner knows about the table. The index it replaces,
 * `(environment_id, type, id)`, served DEFAULT (three types) as three ranges
 * whose union is not in creation order: without statistics (a SQLite file is
 * never analysed; a PostgreSQL table before autovacuum first runs, or where
 * it is off) both planners read the whole environment instead, SQLite along
 * `(environment_id, id)` to skip the sort, PostgreSQL along the status index,
 * 100,000 keys for two. The category is now the expression
 * CATEGORY of src/modules/api-key/api-key.repository.ts (a planner matches an
 * expression index by its shape, so the two must stay the same):
 *
 * - `(environment_id, category, id)`: a category's page read in creation
 *   order straight from the index (the LIMIT stops it), and its count.
 * - `(environment_id, category, stops_at)`: a category and a status together,
 *   one range (STOPS_AT, as in api_keys_status_idx).
 *
 * Only listed keys (not deleted) are indexed, as before. Built inside the
 * migration's transaction: a fraction of a second at 100,000 keys.
 */
const CATEGORY = `(case when type = 'SCOPED' then 'SCOPED' else 'DEFAULT' end)`;
const STOPS_AT = `(case when revoked_at is not null then '0001-01-01T00:00:00.000Z' when expires_at is null then '9999-12-31T23:59:59.999Z' else expires_at end)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_keys_category_idx').execute();
  await sql
    .raw(`create index api_keys_category_idx on api_keys (environment_id, ${CATEGORY}, id) where deleted_at is null`)
    .execute(db);
  await sql
    .raw(
      `create index api_keys_category_status_idx on api_keys (environment_id, ${CATEGORY}, ${STOPS_AT}) where deleted_at is null`,
    )
    .execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_keys_category_status_idx').execute();
  await db.schema.dropIndex('api_keys_category_idx').execute();
  await sql`create index api_keys_category_idx on api_keys (environment_id, type, id) where deleted_at is null`.execute(db);
}
