import { type Kysely, sql } from 'kysely';

/**
 * An index for every filter of `apiKeys`, so a filter that matches a few of
 * an environment's keys reads those few, and its `totalCount` counts them in
 * an index. Only listed keys (not deleted) are indexed: every list query says
 * `deleted_at is null`.
 *
 * - category: `(environment_id, type, id)`; DEFAULT is three types, SCOPED one
 *   (read in creation order straight from the index).
 * - status, computed from the clock: every status is a range of one value,
 *   the moment a key stops authenticating (the beginning of time once
 *   revoked, the end of time without expiry, else its expiry). The list
 *   query filters on this very expression (STOPS_AT in
 *   src/modules/api-key/api-key.repository.ts: a planner matches an
 *   expression index by its shape, so the two must stay the same); one text
 *   serves both dialects (its literals are timestamps on PostgreSQL, ISO-8601
 *   text that sorts on SQLite).
 * - the keys of an integration (disconnect), which read the whole table before.
 *
 * Built inside the migration's transaction (no CONCURRENTLY): key tables are
 * small enough for that, and the build takes a fraction of a second at
 * 100,000 keys.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index api_keys_category_idx on api_keys (environment_id, type, id) where deleted_at is null`.execute(db);
  await sql`create index api_keys_status_idx on api_keys (environment_id, (case when revoked_at is not null then '0001-01-01T00:00:00.000Z' when expires_at is null then '9999-12-31T23:59:59.999Z' else expires_at end)) where deleted_at is null`.execute(
    db,
  );
  await sql`create index api_keys_integration_idx on api_keys (integration_id) where integration_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const index of ['api_keys_integration_idx', 'api_keys_status_idx', 'api_keys_category_idx']) {
    await db.schema.dropIndex(index).ifExists().execute();
  }
}
