import { randomBytes } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import type { Database } from '../../src/database/database.js';
import type { ApiKeyTable } from '../../src/modules/api-key/api-key.table.js';
import { newId } from '../../src/shared/ids.js';

/** Rows per insert: well under either database's parameter limit (22 columns each). */
const ROWS_PER_INSERT = 500;

export type KeyRowSpec = Partial<Pick<ApiKeyTable, 'type' | 'expires_at' | 'revoked_at' | 'deleted_at' | 'last_used_at'>>;

/**
 * Inserts key rows straight into `api_keys` (no secret anyone holds, no audit
 * event), in bulk: fixtures for tests about many keys, where issuing each
 * through the service would cost seconds. Returns the ids in order.
 */
export async function insertKeyRows(
  db: Kysely<Database>,
  owner: { accountId: string; environmentId: string },
  specs: readonly KeyRowSpec[],
  createdAt = '2026-06-01T00:00:00.000Z',
): Promise<string[]> {
  const rows: Insertable<ApiKeyTable>[] = specs.map((spec, i) => ({
    id: newId('key'),
    account_id: owner.accountId,
    environment_id: owner.environmentId,
    type: spec.type ?? 'SCOPED',
    name: `Fixture key ${i}`,
    description: null,
    digest: randomBytes(32).toString('hex'),
    last4: 'abcd',
    secret_encrypted: 'fixture',
    scopes: (spec.type ?? 'SCOPED') === 'SCOPED' ? '["customers:read"]' : null,
    integration_id: null,
    created_at: createdAt,
    created_by_type: 'SYSTEM',
    created_by_id: null,
    created_by_name: 'System',
    expires_at: spec.expires_at ?? null,
    revoked_at: spec.revoked_at ?? null,
    rotated_from_id: null,
    rotated_to_id: null,
    last_used_at: spec.last_used_at ?? null,
    deleted_at: spec.deleted_at ?? null,
  }));
  await db.transaction().execute(async (trx) => {
    for (let at = 0; at < rows.length; at += ROWS_PER_INSERT) {
      await trx
        .insertInto('api_keys')
        .values(rows.slice(at, at + ROWS_PER_INSERT))
        .execute();
    }
  });
  return rows.map((r) => r.id);
}
