import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

/**
 * Public keys of the identity tokens Keygate signs for upstream services
 * (SPEC §9). Every instance registers the key it signs with and renews it
 * while it runs; the JWKS any instance serves lists every key still in use
 * or whose tokens may still be valid, so it verifies tokens from all.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('identity_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    // Renewed by every instance signing with this key; a key not seen for long enough leaves the JWKS.
    .addColumn('last_seen_at', t.timestamp, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('identity_keys_last_seen_idx').on('identity_keys').column('last_seen_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('identity_keys').execute();
}
