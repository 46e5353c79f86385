import type { Kysely } from 'kysely';

/**
 * The webhook expiry scheduler (SPEC §10) looks, every few seconds, for keys
 * whose expiry is near or just passed. Few keys ever have an expiry (rotated
 * keys in their grace period, mostly), so a partial index holds only those:
 * the pass reads a handful of index entries, never the whole key table.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('api_keys_expires_at_idx')
    .on('api_keys')
    .columns(['expires_at', 'id'])
    .where('expires_at', 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_keys_expires_at_idx').execute();
}
