import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';

/** Registers (or renews) the key this instance signs with. */
export async function upsertIdentityKey(db: Kysely<Database>, kid: string, publicJwk: string, now: string): Promise<void> {
  await db
    .insertInto('identity_keys')
    .values({ kid, public_jwk: publicJwk, created_at: now, last_seen_at: now })
    .onConflict((oc) => oc.column('kid').doUpdateSet({ last_seen_at: now }))
    .execute();
}

/** Public keys seen since `since`, newest first: those whose tokens may still be valid. */
export async function listIdentityKeysSeenSince(db: Kysely<Database>, since: string): Promise<string[]> {
  const rows = await db
    .selectFrom('identity_keys')
    .select('public_jwk')
    .where('last_seen_at', '>=', since)
    .orderBy('last_seen_at', 'desc')
    .limit(20)
    .execute();
  return rows.map((r) => r.public_jwk);
}

/** Forgets keys no instance has used for long (bounded storage). */
export async function deleteIdentityKeysSeenBefore(db: Kysely<Database>, before: string): Promise<void> {
  await db.deleteFrom('identity_keys').where('last_seen_at', '<', before).execute();
}
