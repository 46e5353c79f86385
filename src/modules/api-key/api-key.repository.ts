import type { ExpressionBuilder, Kysely, Transaction } from 'kysely';
import type { Dialect } from '../../database/connect.js';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
import type { PageRequest } from '../../shared/pagination.js';
import { type ApiKeyCategory, type ApiKeyStatus, EXPIRING_SOON_WINDOW_MS, TYPES_BY_CATEGORY } from './api-key.status.js';
import type { ApiKeyRow, NewApiKey } from './api-key.table.js';

type Db = Kysely<Database>;

/** Stored scope as an array, whichever dialect returned it. */
export function storedScopes(row: Pick<ApiKeyRow, 'scopes'>): string[] | null {
  return row.scopes == null ? null : (JSON.parse(row.scopes) as string[]);
}

export async function findKeyByDigest(db: Db, digest: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('digest', '=', digest).executeTakeFirst();
}

export async function findKeysByIds(db: Db, ids: readonly string[]): Promise<ApiKeyRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('api_keys').selectAll().where('id', 'in', ids).execute();
}

export async function insertKey(trx: Transaction<Database>, key: NewApiKey): Promise<void> {
  await trx.insertInto('api_keys').values(key).execute();
}

export interface KeyListFilter {
  environmentId: string;
  categories?: readonly ApiKeyCategory[] | null;
  statuses?: readonly ApiKeyStatus[] | null;
  now: Date;
}

/** SQL twin of keyStatus(): the same rule, evaluated by the database for filtering. */
function statusCondition(status: ApiKeyStatus, now: Date) {
  const nowIso = now.toISOString();
  const soonIso = new Date(now.getTime() + EXPIRING_SOON_WINDOW_MS).toISOString();
  return (eb: ExpressionBuilder<Database, 'api_keys'>) => {
    switch (status) {
      case 'EXPIRED':
        return eb.or([eb('revoked_at', 'is not', null), eb('expires_at', '<=', nowIso)]);
      case 'EXPIRING_SOON':
        return eb.and([eb('revoked_at', 'is', null), eb('expires_at', '>', nowIso), eb('expires_at', '<=', soonIso)]);
      case 'ACTIVE':
        return eb.and([eb('revoked_at', 'is', null), eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', soonIso)])]);
    }
  };
}

function filtered(db: Db, filter: KeyListFilter) {
  let query = db.selectFrom('api_keys').where('environment_id', '=', filter.environmentId).where('deleted_at', 'is', null);
  if (filter.categories?.length) {
    query = query.where(
      'type',
      'in',
      filter.categories.flatMap((c) => TYPES_BY_CATEGORY[c]),
    );
  }
  if (filter.statuses?.length) {
    const statuses = filter.statuses;
    query = query.where((eb) => eb.or(statuses.map((s) => statusCondition(s, filter.now)(eb))));
  }
  return query;
}

/** Keys of one environment in creation order. */
export function listKeys(db: Db, filter: KeyListFilter, page: PageRequest): Promise<ApiKeyRow[]> {
  return fetchPage(filtered(db, filter).selectAll(), page, 'asc');
}

export function countKeys(db: Db, filter: KeyListFilter): Promise<number> {
  return countRows(filtered(db, filter).selectAll());
}

/**
 * Reads a key inside a lifecycle transaction and locks its row on PostgreSQL
 * (`SELECT … FOR UPDATE`); SQLite transactions already run one at a time.
 * Every lifecycle call checks state on this fresh row, so concurrent calls on
 * one key serialise in the database: the first wins, the rest see its result.
 */
export async function lockKey(trx: Transaction<Database>, id: string, dialect: Dialect): Promise<ApiKeyRow | undefined> {
  const query = trx.selectFrom('api_keys').selectAll().where('id', '=', id);
  return (dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
}

export type KeyPatch = Partial<
  Pick<ApiKeyRow, 'name' | 'description' | 'expires_at' | 'revoked_at' | 'rotated_to_id' | 'deleted_at'> & { scopes: string[] }
>;

export async function updateKey(trx: Transaction<Database>, id: string, patch: KeyPatch): Promise<void> {
  const { scopes, ...rest } = patch;
  await trx
    .updateTable('api_keys')
    .set({ ...rest, ...(scopes ? { scopes: JSON.stringify(scopes) } : {}) })
    .where('id', '=', id)
    .execute();
}
