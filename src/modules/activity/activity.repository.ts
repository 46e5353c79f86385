import { CompiledQuery, type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { Dialect } from '../../database/connect.js';
import type { Database } from '../../database/database.js';
import { HOUR, MINUTE } from '../../shared/clock.js';
import type { PageRequest } from '../../shared/pagination.js';
import {
  activityIdBytes,
  activityIdOf,
  actorTypeCodes,
  bytesAtTime,
  hourOf,
  idCodec,
  minuteOf,
  operationCodes,
  outcomeCodes,
  SPAN,
  type StoredId,
  timeOfBytes,
} from './activity.codec.js';
import { dayOf, PartitionDays } from './activity.partitions.js';
import { ActivityRefs, actorOfRef, actorRef } from './activity.refs.js';
import type { ActivityCountTable, ActivityEvent, ActivityEventTable, ActivityFilter } from './activity.table.js';

type Db = Kysely<Database>;

/** What the write path needs beside the database: the interned texts and, on PostgreSQL, the partitions. */
export interface ActivityStore {
  db: Db;
  dialect: Dialect;
  refs: ActivityRefs;
  /** PostgreSQL only: the daily partitions the batch's events go to. */
  partitions: PartitionDays | null;
}

/** The store of a database: its own interned-text cache and, on PostgreSQL, its partitions. */
export function activityStoreOf(db: Db, dialect: Dialect): ActivityStore {
  return { db, dialect, refs: new ActivityRefs(db), partitions: dialect === 'postgres' ? new PartitionDays() : null };
}

/** Chunk sizes a batch is split into (its binary decomposition), so only a few distinct statements ever exist. */
const CHUNKS = [256, 128, 64, 32, 16, 8, 4, 2, 1];

interface InsertPlan<Row> {
  sql: string;
  slots: readonly (readonly [row: number, column: keyof Row])[];
}
/** By dialect, statement and size: a transaction is a new `db` each time, so the plans are not kept per `db`. */
const plans = new Map<string, InsertPlan<unknown>>();
/** Plans compiled so far (a test proves batches reuse them). */
export const insertPlanStats = { compiled: 0 };

/**
 * The insert of `size` rows, compiled by Kysely once per dialect, statement
 * and size: compiling a marker batch tells where each row's value goes in the
 * parameter list, so the SQL text is reused and SQLite's statement cache
 * prepares it once.
 */
function insertPlan<Row>(
  dialect: Dialect,
  name: string,
  columns: readonly (keyof Row & string)[],
  size: number,
  build: (markers: Row[]) => { compile(): CompiledQuery },
): InsertPlan<Row> {
  const key = `${dialect}:${name}:${size}`;
  let plan = plans.get(key) as InsertPlan<Row> | undefined;
  if (!plan) {
    const markers = Array.from(
      { length: size },
      (_, row) => Object.fromEntries(columns.map((column) => [column, `${row}:${column}`])) as Row,
    );
    const compiled = build(markers).compile();
    const slots = compiled.parameters.map((marker) => {
      const [row, column] = String(marker).split(':') as [string, keyof Row];
      return [Number(row), column] as const;
    });
    plan = { sql: compiled.sql, slots };
    plans.set(key, plan as InsertPlan<unknown>);
    insertPlanStats.compiled++;
  }
  return plan;
}

async function insertChunked<Row, Out>(
  db: Db,
  dialect: Dialect,
  name: string,
  columns: readonly (keyof Row & string)[],
  rows: readonly Row[],
  build: (markers: Row[]) => { compile(): CompiledQuery },
): Promise<Out[]> {
  const out: Out[] = [];
  let at = 0;
  for (const size of CHUNKS) {
    for (; rows.length - at >= size; at += size) {
      const { sql: text, slots } = insertPlan(dialect, name, columns, size, build);
      const parameters = slots.map(([row, column]) => rows[at + row]![column]);
      const result = await db.executeQuery<Out>(CompiledQuery.raw(text, parameters));
      out.push(...result.rows);
    }
  }
  return out;
}

const EVENT_COLUMNS = [
  'environment',
  'id',
  'field',
  'operation',
  'outcome',
  'error_code',
  'actor_type',
  'actor',
  'api_key',
  'request_id',
] as const satisfies readonly (keyof ActivityEventTable)[];
const COUNT_COLUMNS = ['environment', 'span', 'bucket', 'api_key', 'outcome', 'actor_type', 'n'] as const;

/**
 * Writes a batch of events and their counters in one transaction. Ids are
 * made on the request, so a retried batch inserts only what is missing and
 * counts only what it inserted: the counters stay exact.
 * Returns the number of events written.
 */
export async function writeActivityEvents(store: ActivityStore, events: readonly ActivityEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const { db, dialect, refs } = store;
  const codec = idCodec(dialect);
  const texts = new Set<string>();
  for (const e of events) {
    texts.add(e.environmentId).add(e.field).add(actorRef(e.actor.id, e.actor.displayName));
    if (e.apiKeyId) texts.add(e.apiKeyId);
  }
  const ids = await refs.intern(texts);
  const rows = events.map(
    (e): ActivityEventTable => ({
      environment: ids.get(e.environmentId)!,
      id: codec.encode(activityIdBytes(e.id)),
      field: ids.get(e.field)!,
      operation: operationCodes.code(e.operationType),
      outcome: outcomeCodes.code(e.outcome),
      error_code: e.errorCode,
      actor_type: actorTypeCodes.code(e.actor.type),
      actor: ids.get(actorRef(e.actor.id, e.actor.displayName))!,
      api_key: e.apiKeyId ? ids.get(e.apiKeyId)! : null,
      request_id: e.requestId,
    }),
  );
  await store.partitions?.ensure(db, new Set(events.map((e) => dayOf(e.timestamp.getTime()))));
  // Inside a transaction already (a migration), the writes join it.
  const inTransaction = <T>(fn: (trx: Db) => Promise<T>): Promise<T> =>
    db.isTransaction ? fn(db) : db.transaction().execute(fn);
  return inTransaction(async (trx) => {
    const inserted = await insertChunked<ActivityEventTable, { id: StoredId }>(
      trx,
      dialect,
      'activity_events',
      EVENT_COLUMNS,
      rows,
      (markers) =>
        trx
          .insertInto('activity_events')
          .values(markers)
          .onConflict((oc) => oc.columns(['environment', 'id']).doNothing())
          .returning('id'),
    );
    // As many inserted as sent: every row was new (the usual case, so the ids need no comparing).
    const written = inserted.length === rows.length ? null : new Set(inserted.map((r) => codec.decode(r.id).toString('hex')));
    const counts = countersOf(written ? rows.filter((r) => written.has(codec.decode(r.id).toString('hex'))) : rows, codec.decode);
    await insertChunked<ActivityCountTable, never>(trx, dialect, 'activity_counts', COUNT_COLUMNS, counts, (markers) =>
      trx
        .insertInto('activity_counts')
        .values(markers)
        .onConflict((oc) =>
          oc
            .columns(['environment', 'span', 'api_key', 'outcome', 'actor_type', 'bucket'])
            .doUpdateSet((eb) => ({ n: eb('activity_counts.n', '+', eb.ref('excluded.n')) })),
        ),
    );
    return written ? written.size : rows.length;
  });
}

/**
 * The counter increments of written rows: for each event's hour, every
 * combination of its key, outcome and actor type with "any" (0); for its
 * minute, the combinations without a key (minute counters per key would
 * cost a row per key and minute, about one per event when traffic is spread
 * over many keys). Sorted, so that concurrent writers take row locks in one
 * order (no deadlocks).
 */
function countersOf(rows: readonly ActivityEventTable[], decode: (id: StoredId) => Buffer): ActivityCountTable[] {
  // Events alike in environment, key, outcome, actor type and minute first (a busy key's batch is a few such
  // groups), so the counter keys below are built once per group, not once per event.
  const groups = new Map<string, { row: ActivityEventTable; minute: number; n: number }>();
  for (const row of rows) {
    const minute = minuteOf(timeOfBytes(decode(row.id)));
    const key = `${row.environment}:${row.api_key}:${row.outcome}:${row.actor_type}:${minute}`;
    const group = groups.get(key);
    if (group) group.n++;
    else groups.set(key, { row, minute, n: 1 });
  }
  const sums = new Map<string, ActivityCountTable>();
  const add = (row: ActivityEventTable, span: number, bucket: number, api_key: number, n: number) => {
    for (const outcome of [row.outcome, 0]) {
      for (const actor_type of [row.actor_type, 0]) {
        const key = `${row.environment}:${span}:${api_key}:${outcome}:${actor_type}:${bucket}`;
        const sum = sums.get(key);
        if (sum) sum.n = Number(sum.n) + n;
        else sums.set(key, { environment: row.environment, span, bucket, api_key, outcome, actor_type, n });
      }
    }
  };
  for (const { row, minute, n } of groups.values()) {
    const hour = hourOf(minute * MINUTE);
    add(row, SPAN.hour, hour, 0, n);
    if (row.api_key !== null) add(row, SPAN.hour, hour, row.api_key, n);
    add(row, SPAN.minute, minute, 0, n);
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, sum]) => sum);
}

/** Filter codes: the key's interned id, and the enumerations' codes (0: no filter). */
interface Codes {
  environment: number;
  apiKey: number;
  outcome: number;
  actorType: number;
}

/** Null when the filter names an environment or key no event has named, so nothing can match. */
async function codesOf(refs: ActivityRefs, filter: ActivityFilter): Promise<Codes | null> {
  const environment = await refs.find(filter.environmentId);
  if (environment === null) return null;
  const apiKey = filter.apiKeyId ? await refs.find(filter.apiKeyId) : 0;
  if (apiKey === null) return null;
  return {
    environment,
    apiKey,
    outcome: filter.outcome ? outcomeCodes.code(filter.outcome) : 0,
    actorType: filter.actorType ? actorTypeCodes.code(filter.actorType) : 0,
  };
}

/**
 * The rows of a filter from a time on. Each filter has its index (see the
 * migration); the literal terms repeat the partial indexes' conditions so
 * both planners may use them whatever the parameter.
 */
function matching<O>(
  query: SelectQueryBuilder<Database, 'activity_events', O>,
  codes: Codes,
  fromId: StoredId,
): SelectQueryBuilder<Database, 'activity_events', O> {
  let q = query.where('activity_events.environment', '=', codes.environment).where('activity_events.id', '>=', fromId);
  if (codes.apiKey)
    q = q.where('activity_events.api_key', '=', codes.apiKey).where(sql<boolean>`activity_events.api_key is not null`);
  if (codes.outcome) {
    q = q.where('activity_events.outcome', '=', codes.outcome);
    if (codes.outcome !== SUCCESS) q = q.where(sql<boolean>`activity_events.outcome <> ${sql.lit(SUCCESS)}`);
  }
  if (codes.actorType) {
    q = q.where('activity_events.actor_type', '=', codes.actorType);
    if (codes.actorType !== API_KEY) q = q.where(sql<boolean>`activity_events.actor_type <> ${sql.lit(API_KEY)}`);
  }
  return q;
}
const SUCCESS = outcomeCodes.code('SUCCESS');
const API_KEY = actorTypeCodes.code('API_KEY');

/** The events a read may see: the filter's, within the retention window (`cutoffMs`). */
export interface ActivityRead {
  db: Db;
  dialect: Dialect;
  refs: ActivityRefs;
  filter: ActivityFilter;
  cutoffMs: number;
}

const startOf = (read: ActivityRead): number => Math.max(read.cutoffMs, read.filter.sinceMs ?? Number.NEGATIVE_INFINITY);

/** Newest first, keyset-paged on the id. */
export async function listActivityEvents(read: ActivityRead, page: PageRequest): Promise<ActivityEvent[]> {
  const codes = await codesOf(read.refs, read.filter);
  if (!codes) return [];
  const codec = idCodec(read.dialect);
  // The page is taken from the filter's index first, then its texts are joined: the join never
  // changes how the events are found (newest first, straight from the index, no sort).
  let window = matching(read.db.selectFrom('activity_events'), codes, codec.encode(bytesAtTime(startOf(read))));
  if (page.afterId) window = window.where('activity_events.id', '<', codec.encode(activityIdBytes(page.afterId)));
  const newest = (query: typeof window) => query.orderBy('activity_events.id', 'desc').limit(page.size + 1);
  // SQLite: the page's ids first, from the filter's index alone (it holds the ids), then their rows.
  // Asked for whole rows in id order, SQLite takes the table's own key (environment, id) for the
  // order and walks the whole window to find a rare key's few events (110 ms at 1M events,
  // bench/scale.ts). PostgreSQL picks the filter's index by itself.
  const pageRows =
    read.dialect === 'sqlite'
      ? read.db
          .selectFrom('activity_events')
          .selectAll()
          .where('activity_events.environment', '=', codes.environment)
          .where('activity_events.id', 'in', newest(window).select('activity_events.id'))
      : newest(window).selectAll();
  const rows = await read.db
    .selectFrom(pageRows.as('e'))
    .innerJoin('activity_refs as f', 'f.id', 'e.field')
    .innerJoin('activity_refs as a', 'a.id', 'e.actor')
    .leftJoin('activity_refs as k', 'k.id', 'e.api_key')
    .select(['e.id', 'e.operation', 'e.outcome', 'e.error_code', 'e.actor_type', 'e.request_id'])
    .select(['f.ref as field_name', 'a.ref as actor_ref', 'k.ref as key_ref'])
    .execute();
  // At most a page of rows: put back in the inner query's order here rather than sort them in the database.
  rows.sort((x, y) => Buffer.compare(codec.decode(y.id), codec.decode(x.id)));
  return rows.map((row) => {
    const bytes = codec.decode(row.id);
    const actor = actorOfRef(row.actor_ref);
    return {
      id: activityIdOf(bytes),
      environmentId: read.filter.environmentId,
      timestamp: new Date(timeOfBytes(bytes)),
      field: row.field_name,
      operationType: operationCodes.value(Number(row.operation)),
      outcome: outcomeCodes.value(Number(row.outcome)),
      errorCode: row.error_code,
      actor: { type: actorTypeCodes.value(Number(row.actor_type)), ...actor },
      apiKeyId: row.key_ref,
      requestId: row.request_id,
    };
  });
}

/**
 * The exact number of a filter's events, at a cost independent of how many
 * there are: whole hours from the hourly counters; before the first whole
 * hour, the minute counters and the rows of the first, partial minute (with
 * a key filter, that key's rows of the partial hour). A retention cutoff is
 * a whole hour, so without `since` no row is read at all.
 */
export async function countActivityEvents(read: ActivityRead): Promise<number> {
  const codes = await codesOf(read.refs, read.filter);
  if (!codes) return 0;
  const start = startOf(read);
  const firstMinute = Math.ceil(start / MINUTE);
  const firstHour = Math.ceil(start / HOUR) * 60;
  const counter = (span: number) =>
    read.db
      .selectFrom('activity_counts')
      .select(sql<number | string | null>`sum(n)`.as('n'))
      .where('environment', '=', codes.environment)
      .where('span', '=', span)
      .where('api_key', '=', codes.apiKey)
      .where('outcome', '=', codes.outcome)
      .where('actor_type', '=', codes.actorType);
  const hours = await counter(SPAN.hour).where('bucket', '>=', firstHour).executeTakeFirst();
  let total = Number(hours?.n ?? 0);
  // Rows from `start` to `rowsUntil` (minutes) are counted one by one.
  let rowsUntil = firstHour;
  if (!codes.apiKey && firstMinute < firstHour) {
    const minutes = await counter(SPAN.minute)
      .where('bucket', '>=', firstMinute)
      .where('bucket', '<', firstHour)
      .executeTakeFirst();
    total += Number(minutes?.n ?? 0);
    rowsUntil = firstMinute;
  }
  if (start < rowsUntil * MINUTE) {
    const codec = idCodec(read.dialect);
    const partial = await matching(
      read.db.selectFrom('activity_events').select(sql<number | string>`count(*)`.as('n')),
      codes,
      codec.encode(bytesAtTime(start)),
    )
      .where('activity_events.id', '<', codec.encode(bytesAtTime(rowsUntil * MINUTE)))
      .executeTakeFirstOrThrow();
    total += Number(partial.n);
  }
  return total;
}

/**
 * Deletes up to `limit` events of an environment older than `cutoffMs`, the
 * oldest first; returns how many. SQLite deletes the ids a subquery picks
 * (500 primary-key probes). On PostgreSQL that form hash-joined the
 * subquery against every aged row of the environment in each partition (30
 * to 50 ms a batch of 500 at 100,000 aged events), so there the batch is one
 * range of the primary key (environment, id), up to the batch's last aged
 * id or, when fewer are left, the cutoff (about 1 ms). SQLite cannot take
 * that form: given two upper bounds, it bounds the range by one and walks it
 * to the other.
 */
export async function deleteAgedEvents(db: Db, dialect: Dialect, environment: number, cutoffMs: number, limit: number) {
  const cutoff = idCodec(dialect).encode(bytesAtTime(cutoffMs));
  const aged = db
    .selectFrom('activity_events')
    .select('id')
    .where('environment', '=', environment)
    .where('id', '<', cutoff)
    .orderBy('id');
  const batch = db.deleteFrom('activity_events').where('environment', '=', environment);
  const result =
    dialect === 'sqlite'
      ? await batch.where('id', 'in', aged.limit(limit)).executeTakeFirst()
      : await batch
          .where('id', '<', cutoff)
          // Ids are unique in an environment: up to the limit-th aged id is `limit` rows.
          .where('id', '<=', (eb) => eb.fn.coalesce(aged.offset(limit - 1).limit(1), eb.val(cutoff)))
          .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes up to `limit` counters of an environment for buckets before `cutoffMs`; returns how many. */
export async function deleteAgedCounts(db: Db, environment: number, cutoffMs: number, limit: number) {
  const bucket = minuteOf(cutoffMs);
  const aged = db
    .selectFrom('activity_counts')
    .select(['span', 'api_key', 'outcome', 'actor_type', 'bucket'])
    .where('environment', '=', environment)
    .where('bucket', '<', bucket)
    .limit(limit);
  const result = await db
    .deleteFrom('activity_counts')
    .where('environment', '=', environment)
    .where(sql<boolean>`(span, api_key, outcome, actor_type, bucket) in (${aged})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The interned ids of environments that have activity, after `after`, in order (the retention walk). */
export async function environmentsWithActivity(db: Db, after: number, limit: number): Promise<{ ref: number; id: string }[]> {
  const rows = await db
    .selectFrom('activity_refs')
    .innerJoin('environments', 'environments.id', 'activity_refs.ref')
    .select(['activity_refs.id as ref', 'environments.id as id'])
    .where('activity_refs.id', '>', after)
    .orderBy('activity_refs.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ref: Number(r.ref), id: r.id }));
}

/**
 * Every stored event of an environment, oldest first, decoded, whatever the
 * retention window (tools and tests that check what was written).
 */
export async function storedActivityEvents(db: Db, dialect: Dialect, environmentId: string): Promise<ActivityEvent[]> {
  const codec = idCodec(dialect);
  const rows = await db
    .selectFrom('activity_events')
    .innerJoin('activity_refs as env', 'env.id', 'activity_events.environment')
    .innerJoin('activity_refs as f', 'f.id', 'activity_events.field')
    .innerJoin('activity_refs as a', 'a.id', 'activity_events.actor')
    .leftJoin('activity_refs as k', 'k.id', 'activity_events.api_key')
    .selectAll('activity_events')
    .select(['f.ref as field_name', 'a.ref as actor_ref', 'k.ref as key_ref'])
    .where('env.ref', '=', environmentId)
    .orderBy('activity_events.id')
    .execute();
  return rows.map((row) => {
    const bytes = codec.decode(row.id);
    return {
      id: activityIdOf(bytes),
      environmentId,
      timestamp: new Date(timeOfBytes(bytes)),
      field: row.field_name,
      operationType: operationCodes.value(Number(row.operation)),
      outcome: outcomeCodes.value(Number(row.outcome)),
      errorCode: row.error_code,
      actor: { type: actorTypeCodes.value(Number(row.actor_type)), ...actorOfRef(row.actor_ref) },
      apiKeyId: row.key_ref,
      requestId: row.request_id,
    };
  });
}
