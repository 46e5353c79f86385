import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { ActorType } from '../audit/actor.js';
import type { ActivityEventRow, ActivityOutcome } from './activity.table.js';

type Db = Kysely<Database>;

/** Idempotent batch insert: ids are made on the request, so a retried batch cannot duplicate. */
export async function insertActivityEvents(db: Db, rows: readonly ActivityEventRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insertInto('activity_events')
      .values(rows.slice(i, i + 500))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
}

export interface ActivityFilter {
  environmentId: string;
  apiKeyId?: string | null;
  actorType?: ActorType | null;
  outcome?: ActivityOutcome | null;
  since?: string | null;
}

function filtered(db: Db, filter: ActivityFilter) {
  let query = db.selectFrom('activity_events').selectAll().where('environment_id', '=', filter.environmentId);
  if (filter.apiKeyId) query = query.where('api_key_id', '=', filter.apiKeyId);
  if (filter.actorType) query = query.where('actor_type', '=', filter.actorType);
  if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
  if (filter.since) query = query.where('created_at', '>=', filter.since);
  return query;
}

/** Newest first. */
export function listActivityEvents(db: Db, filter: ActivityFilter, page: PageRequest): Promise<ActivityEventRow[]> {
  return fetchPage(filtered(db, filter), page, 'desc');
}

export function countActivityEvents(db: Db, filter: ActivityFilter): Promise<number> {
  return countRows(filtered(db, filter));
}

/** Where objects named by id live, for calls whose environment is known only by an id argument. */
export async function environmentsOfObjects(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, { account_id: string; environment_id: string | null }>> {
  const out = new Map<string, { account_id: string; environment_id: string | null }>();
  const byTable = {
    env: ids.filter((id) => id.startsWith('env_')),
    key: ids.filter((id) => id.startsWith('key_')),
    sub: ids.filter((id) => id.startsWith('sub_')),
    int: ids.filter((id) => id.startsWith('int_')),
  };
  if (byTable.env.length) {
    for (const r of await db.selectFrom('environments').select(['id', 'account_id']).where('id', 'in', byTable.env).execute()) {
      out.set(r.id, { account_id: r.account_id, environment_id: r.id });
    }
  }
  for (const [prefix, table] of [
    ['key', 'api_keys'],
    ['sub', 'subscriptions'],
    ['int', 'integrations'],
  ] as const) {
    const wanted = byTable[prefix];
    if (!wanted.length) continue;
    for (const r of await db
      .selectFrom(table)
      .select(['id', 'account_id', 'environment_id'])
      .where('id', 'in', wanted)
      .execute()) {
      out.set(r.id, { account_id: r.account_id, environment_id: r.environment_id });
    }
  }
  return out;
}
