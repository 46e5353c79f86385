import { type ExpressionBuilder, type Kysely, sql, type Transaction } from 'kysely';
import type { Dialect } from '../../database/connect.js';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { ApiKey } from './api-key.model.js';
import { type ApiKeyCategory, type ApiKeyStatus, EXPIRING_SOON_WINDOW_MS } from './api-key.status.js';
import type { ApiKeyRow } from './api-key.table.js';

type Db = Kysely<Database>;

/** The stored form of a scope: JSON text, or null for the key types that have none. */
function scopeColumn(scopes: readonly string[] | null): string | null {
  return scopes ? JSON.stringify(scopes) : null;
}

/** The one mapping from a stored row to the domain object: the scope's JSON text is parsed here and nowhere else. */
function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    accountId: row.account_id,
    environmentId: row.environment_id,
    type: row.type,
    name: row.name,
    description: row.description,
    digest: row.digest,
    last4: row.last4,
    secretEncrypted: row.secret_encrypted,
    scopes: row.scopes == null ? null : (JSON.parse(row.scopes) as string[]),
    integrationId: row.integration_id,
    createdAt: row.created_at,
    createdBy: { type: row.created_by_type, id: row.created_by_id, displayName: row.created_by_name },
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    rotatedFromId: row.rotated_from_id,
    rotatedToId: row.rotated_to_id,
    lastUsedAt: row.last_used_at,
    deletedAt: row.deleted_at,
  };
}

export async function findKeyByDigest(db: Db, digest: string): Promise<ApiKey | undefined> {
  const row = await db.selectFrom('api_keys').selectAll().where('digest', '=', digest).executeTakeFirst();
  return row && toApiKey(row);
}

export async function findKeysByIds(db: Db, ids: readonly string[]): Promise<ApiKey[]> {
  if (ids.length === 0) return [];
  return (await db.selectFrom('api_keys').selectAll().where('id', 'in', ids).execute()).map(toApiKey);
}

/** What a new key is made of; the rest of its state (expiry, revocation, rotation, use) starts empty. */
export type NewKey = Pick<
  ApiKey,
  | 'id'
  | 'accountId'
  | 'environmentId'
  | 'type'
  | 'name'
  | 'description'
  | 'digest'
  | 'last4'
  | 'secretEncrypted'
  | 'scopes'
  | 'integrationId'
  | 'createdAt'
  | 'createdBy'
  | 'rotatedFromId'
>;

/** Inserts a key and returns it as stored. */
export async function insertKey(trx: Transaction<Database>, key: NewKey): Promise<ApiKey> {
  const row = await trx
    .insertInto('api_keys')
    .values({
      id: key.id,
      account_id: key.accountId,
      environment_id: key.environmentId,
      type: key.type,
      name: key.name,
      description: key.description,
      digest: key.digest,
      last4: key.last4,
      secret_encrypted: key.secretEncrypted,
      scopes: scopeColumn(key.scopes),
      integration_id: key.integrationId,
      created_at: key.createdAt,
      created_by_type: key.createdBy.type,
      created_by_id: key.createdBy.id,
      created_by_name: key.createdBy.displayName,
      rotated_from_id: key.rotatedFromId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toApiKey(row);
}

export interface KeyListFilter {
  environmentId: string;
  categories?: readonly ApiKeyCategory[] | null;
  statuses?: readonly ApiKeyStatus[] | null;
  now: Date;
}

/**
 * The moment a key stops authenticating, as one sortable value of the same
 * type as its timestamps: the beginning of time once revoked, the end of time
 * when it never expires, else its expiry. Every status is a range of it
 * (see keyStatus): EXPIRED up to now, EXPIRING_SOON up to the end of the
 * window, ACTIVE after. Migration 2026-12-02T1200_api_key_indexes indexes
 * this very expression (a planner matches it by its shape), and
 * test/api-key/api-keys-explain.test.ts fails if the two part.
 */
const STOPS_AT = sql<string>`(case when revoked_at is not null then '0001-01-01T00:00:00.000Z' when expires_at is null then '9999-12-31T23:59:59.999Z' else expires_at end)`;

/** The statuses in the order of STOPS_AT. */
const STATUS_LINE = ['EXPIRED', 'EXPIRING_SOON', 'ACTIVE'] as const satisfies readonly ApiKeyStatus[];

/**
 * SQL twin of keyStatus() for a set of statuses: adjacent statuses merge into
 * one range of STOPS_AT, so any set is at most two ranges of one index. Null
 * when the set holds every status (no condition).
 */
function statusCondition(statuses: ReadonlySet<ApiKeyStatus>, now: Date) {
  if (STATUS_LINE.every((s) => statuses.has(s))) return null;
  const soon = new Date(now.getTime() + EXPIRING_SOON_WINDOW_MS).toISOString();
  const bounds = {
    EXPIRED: { after: null, until: now.toISOString() },
    EXPIRING_SOON: { after: now.toISOString(), until: soon },
    ACTIVE: { after: soon, until: null },
  };
  return (eb: ExpressionBuilder<Database, 'api_keys'>) => {
    const ranges = [];
    for (let i = 0; i < STATUS_LINE.length; i++) {
      if (!statuses.has(STATUS_LINE[i]!)) continue;
      let j = i;
      while (j + 1 < STATUS_LINE.length && statuses.has(STATUS_LINE[j + 1]!)) j++;
      // One run of adjacent statuses: (after of its first, until of its last]; never open at both ends.
      const { after } = bounds[STATUS_LINE[i]!];
      const { until } = bounds[STATUS_LINE[j]!];
      const range = [];
      if (after !== null) range.push(eb(STOPS_AT, '>', after));
      if (until !== null) range.push(eb(STOPS_AT, '<=', until));
      ranges.push(eb.and(range));
      i = j;
    }
    return eb.or(ranges);
  };
}

/**
 * A key's category as one value: DEFAULT is three types, which as `type in
 * (…)` would be three index ranges out of creation order. Migration
 * 2026-12-03T0900_api_key_category_index indexes this very expression, alone
 * before `id` and before STOPS_AT; test/api-key/api-keys-explain.test.ts
 * fails if the two part.
 */
const CATEGORY = sql<ApiKeyCategory>`(case when type = 'SCOPED' then 'SCOPED' else 'DEFAULT' end)`;

function filtered(db: Db, filter: KeyListFilter) {
  let query = db.selectFrom('api_keys').where('environment_id', '=', filter.environmentId).where('deleted_at', 'is', null);
  // Both categories are every key: no condition, as with every status.
  const categories = new Set(filter.categories);
  if (categories.size === 1) query = query.where(CATEGORY, '=', [...categories][0]!);
  const statuses = statusCondition(new Set(filter.statuses?.length ? filter.statuses : STATUS_LINE), filter.now);
  if (statuses) query = query.where(statuses);
  return query;
}

/** Keys of one environment in creation order. */
export async function listKeys(db: Db, filter: KeyListFilter, page: PageRequest): Promise<ApiKey[]> {
  return (await fetchPage(filtered(db, filter).selectAll(), page, 'asc')).map(toApiKey);
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
export async function lockKey(trx: Transaction<Database>, id: string, dialect: Dialect): Promise<ApiKey | undefined> {
  const query = trx.selectFrom('api_keys').selectAll().where('id', '=', id);
  const row = await (dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirst();
  return row && toApiKey(row);
}

/** The state a lifecycle change may set. */
export type KeyPatch = Partial<
  Pick<ApiKey, 'name' | 'description' | 'scopes' | 'expiresAt' | 'revokedAt' | 'rotatedToId' | 'deletedAt'>
>;

/** Applies a patch and returns the key as stored after it. */
export async function updateKey(trx: Transaction<Database>, id: string, patch: KeyPatch): Promise<ApiKey> {
  const row = await trx
    .updateTable('api_keys')
    .set({
      name: patch.name,
      description: patch.description,
      scopes: patch.scopes === undefined ? undefined : scopeColumn(patch.scopes),
      expires_at: patch.expiresAt,
      revoked_at: patch.revokedAt,
      rotated_to_id: patch.rotatedToId,
      deleted_at: patch.deletedAt,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toApiKey(row);
}

/** Where a page of keys ordered by expiry ended. */
export interface ExpiryCursor {
  expiresAt: string;
  id: string;
}

/**
 * Keys, neither revoked nor deleted, whose expiry is in (`from`, `to`],
 * by expiry then id, `limit` after `after` (a keyset over the partial
 * index api_keys_expires_at_idx): what the webhook expiry scheduler
 * looks at each pass.
 */
export async function findKeysExpiringBetween(
  db: Db,
  range: { from: string; to: string },
  after: ExpiryCursor | null,
  limit: number,
): Promise<ApiKey[]> {
  let query = db
    .selectFrom('api_keys')
    .selectAll()
    .where('expires_at', 'is not', null)
    .where('expires_at', '>', range.from)
    .where('expires_at', '<=', range.to)
    .where('revoked_at', 'is', null)
    .where('deleted_at', 'is', null);
  if (after) {
    query = query.where((eb) =>
      eb.or([eb('expires_at', '>', after.expiresAt), eb.and([eb('expires_at', '=', after.expiresAt), eb('id', '>', after.id)])]),
    );
  }
  return (await query.orderBy('expires_at').orderBy('id').limit(limit).execute()).map(toApiKey);
}

/** Ids of an integration's live keys: the current one and any rotated-out key still in its grace period. */
export async function findLiveKeyIdsOfIntegration(db: Db, integrationId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select('id')
    .where('integration_id', '=', integrationId)
    .where('deleted_at', 'is', null)
    .execute();
  return rows.map((r) => r.id);
}

/** Keys whose use one statement writes: bounds the statement's size, whatever the batch. */
export const LAST_USED_PER_STATEMENT = 1000;

/**
 * Writes `lastUsedAt` for a batch of keys: one statement per
 * LAST_USED_PER_STATEMENT keys, its text the same whatever the count (the
 * batch travels as one or two parameters), so the database prepares it once.
 * A use older than the stored one (another instance wrote a later one)
 * changes nothing.
 */
export async function writeLastUsed(
  db: Db,
  dialect: Dialect,
  uses: readonly (readonly [keyId: string, at: string])[],
): Promise<void> {
  for (let at = 0; at < uses.length; at += LAST_USED_PER_STATEMENT) {
    const chunk = uses.slice(at, at + LAST_USED_PER_STATEMENT);
    const statement =
      dialect === 'postgres'
        ? sql`update api_keys as k set last_used_at = u.at
              from unnest(${chunk.map(([id]) => id)}::text[], ${chunk.map(([, used]) => used)}::timestamptz[]) as u(id, at)
              where k.id = u.id and (k.last_used_at is null or k.last_used_at < u.at)`
        : sql`update api_keys set last_used_at = u.at
              from (select value ->> 0 as id, value ->> 1 as at from json_each(${JSON.stringify(chunk)})) as u
              where api_keys.id = u.id and (api_keys.last_used_at is null or api_keys.last_used_at < u.at)`;
    await statement.execute(db);
  }
}
