import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { ActorType } from '../audit/actor.js';
import type { ActivityEventRow, ActivityEventTable, ActivityOutcome } from './activity.table.js';

type Db = Kysely<Database>;

/** Every column, in one fixed order (checked against the table type below). */
const COLUMNS = [
  'id',
  'account_id',
  'environment_id',
  'action',
  'field',
  'operation_type',
  'outcome',
  'error_code',
  'actor_type',
  'actor_id',
  'actor_name',
  'api_key_id',
  'request_id',
  'created_at',
] as const satisfies readonly (keyof ActivityEventTable)[];
const allColumns: Exclude<keyof ActivityEventTable, (typeof COLUMNS)[number]> extends never ? true : never = true;
void allColumns;

/** Chunk sizes a batch is split into (its binary decomposition), so only a few distinct statements ever exist. */
const CHUNKS = [256, 128, 64, 32, 16, 8, 4, 2, 1];

interface InsertPlan {
  sql: string;
  /** For each parameter, in order: which row and which column it comes from. */
  slots: readonly (readonly [row: number, column: (typeof COLUMNS)[number]])[];
}
const plans = new WeakMap<Db, Map<number, InsertPlan>>();

/**
 * The insert of `size` rows, compiled by Kysely once per database and size.
 * Compiling a marker batch tells where each row's value goes in the
 * parameter list, so the SQL text is reused and the database's statement
 * cache prepares it once.
 */
function insertPlan(db: Db, size: number): InsertPlan {
  let bySize = plans.get(db);
  if (!bySize) {
    bySize = new Map();
    plans.set(db, bySize);
  }
  let plan = bySize.get(size);
  if (!plan) {
    const markers = Array.from({ length: size }, (_, row) =>
      Object.fromEntries(COLUMNS.map((column) => [column, `${row}:${column}`])),
    ) as unknown as ActivityEventRow[];
    const compiled = db
      .insertInto('activity_events')
      .values(markers)
      .onConflict((oc) => oc.column('id').doNothing())
      .compile();
    const slots = compiled.parameters.map((marker) => {
      const [row, column] = String(marker).split(':') as [string, (typeof COLUMNS)[number]];
      return [Number(row), column] as const;
    });
    plan = { sql: compiled.sql, slots };
    bySize.set(size, plan);
  }
  return plan;
}

/** Idempotent batch insert: ids are made on the request, so a retried batch cannot duplicate. */
export async function insertActivityEvents(db: Db, rows: readonly ActivityEventRow[]): Promise<void> {
  let at = 0;
  for (const size of CHUNKS) {
    for (; rows.length - at >= size; at += size) {
      const { sql, slots } = insertPlan(db, size);
      const parameters = slots.map(([row, column]) => rows[at + row]![column]);
      await db.executeQuery(CompiledQuery.raw(sql, parameters));
    }
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
