import { type Kysely, type SqlBool, sql } from 'kysely';
import {
  activityIdBytes,
  activityIdOf,
  actorTypeCodes,
  idCodec,
  operationCodes,
  outcomeCodes,
  timeOfBytes,
} from '../../src/modules/activity/activity.codec.js';
import { activityLabel } from '../../src/modules/activity/activity.labels.js';
import { createPartition, dayOf, listPartitions } from '../../src/modules/activity/activity.partitions.js';
import { ActivityRefs, actorOfRef } from '../../src/modules/activity/activity.refs.js';
import { writeActivityEvents } from '../../src/modules/activity/activity.repository.js';
import type { ActivityEvent } from '../../src/modules/activity/activity.table.js';
import { columnTypes } from './column-types.js';

/**
 * The activity log at gateway scale (issue 15): events stored compactly
 * (16-byte ids that carry the time, small integers for enumerations and
 * interned text), an index per filter, counters for exact totals at constant
 * cost, and on PostgreSQL a table partitioned by day so aged days are
 * dropped whole. Existing events are carried over.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  const dialect = t.postgres ? 'postgres' : 'sqlite';

  await db.schema.dropIndex('activity_events_environment_idx').execute();
  await db.schema.alterTable('activity_events').renameTo('activity_events_v1').execute();
  if (t.postgres)
    await sql`alter table activity_events_v1 rename constraint activity_events_pkey to activity_events_v1_pkey`.execute(db);

  await db.schema
    .createTable('activity_refs')
    .addColumn('id', 'integer', (c) => (t.postgres ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey()))
    .addColumn('ref', 'text', (c) => c.notNull().unique())
    .execute();

  await db.schema
    .createTable('activity_events')
    .addColumn('environment', 'integer', (c) => c.notNull())
    .addColumn('id', t.postgres ? 'uuid' : 'blob', (c) => c.notNull())
    .addColumn('field', 'integer', (c) => c.notNull())
    .addColumn('operation', 'smallint', (c) => c.notNull())
    .addColumn('outcome', 'smallint', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('actor_type', 'smallint', (c) => c.notNull())
    .addColumn('actor', 'integer', (c) => c.notNull())
    .addColumn('api_key', 'integer')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('activity_events_pkey', ['environment', 'id'])
    // SQLite: the rows are the primary key's b-tree (no rowid, no second copy of the key).
    .modifyEnd(t.postgres ? sql`partition by range (id)` : sql`without rowid`)
    .execute();
  // Filters by key, by an outcome other than SUCCESS, by an actor other than API_KEY: each its index, newest
  // first. Partial indexes hold only the rows their filter can match (most calls succeed, with a key).
  await db.schema
    .createIndex('activity_events_key_idx')
    .on('activity_events')
    .columns(['environment', 'api_key', 'id'])
    .where(sql.ref('api_key'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('activity_events_outcome_idx')
    .on('activity_events')
    .columns(['environment', 'outcome', 'id'])
    .where(sql<SqlBool>`outcome <> 1`)
    .execute();
  await db.schema
    .createIndex('activity_events_actor_idx')
    .on('activity_events')
    .columns(['environment', 'actor_type', 'id'])
    .where(sql<SqlBool>`actor_type <> 2`)
    .execute();

  await db.schema
    .createTable('activity_counts')
    .addColumn('environment', 'integer', (c) => c.notNull())
    .addColumn('span', 'smallint', (c) => c.notNull())
    .addColumn('api_key', 'integer', (c) => c.notNull())
    .addColumn('outcome', 'smallint', (c) => c.notNull())
    .addColumn('actor_type', 'smallint', (c) => c.notNull())
    .addColumn('bucket', 'integer', (c) => c.notNull())
    .addColumn('n', t.postgres ? 'bigint' : 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('activity_counts_pkey', ['environment', 'span', 'api_key', 'outcome', 'actor_type', 'bucket'])
    .$call((b) => (t.postgres ? b : b.modifyEnd(sql`without rowid`)))
    .execute();
  // Retention deletes an environment's aged buckets.
  await db.schema.createIndex('activity_counts_bucket_idx').on('activity_counts').columns(['environment', 'bucket']).execute();

  // Carry the existing events over, a batch at a time (they land in their day's partition).
  const refs = new ActivityRefs(db);
  const store = { db, dialect, refs, partitions: null } as const;
  let after = '';
  for (;;) {
    const batch = await db
      .selectFrom('activity_events_v1')
      .selectAll()
      .where('id', '>', after)
      .where('environment_id', 'is not', null)
      .orderBy('id')
      .limit(1000)
      .execute();
    if (batch.length === 0) break;
    if (t.postgres) {
      // The partition of an event is its id's day (the id carries the time from now on).
      const days = new Set(batch.map((r) => dayOf(timeOfBytes(activityIdBytes(r.id)))));
      for (const day of days) await createPartition(db, day);
    }
    await writeActivityEvents(
      store,
      batch.map(
        (r): ActivityEvent => ({
          id: r.id,
          environmentId: r.environment_id,
          timestamp: new Date(timeOfBytes(activityIdBytes(r.id))),
          field: r.field,
          operationType: r.operation_type,
          outcome: r.outcome,
          errorCode: r.error_code,
          actor: { type: r.actor_type, id: r.actor_id, displayName: r.actor_name },
          apiKeyId: r.api_key_id,
          requestId: r.request_id,
        }),
      ),
    );
    after = batch.at(-1)!.id;
  }
  await db.schema.dropTable('activity_events_v1').execute();
}

/** Back to one wide table; the events are carried back with their field's name as label. */
export async function down(db: Kysely<any>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('activity_events_v1')
    .addColumn('id', t.id, (c) => c.primaryKey())
    .addColumn('account_id', 'text')
    .addColumn('environment_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('field', 'text', (c) => c.notNull())
    .addColumn('operation_type', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_name', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('created_at', t.timestamp, (c) => c.notNull())
    .execute();
  const codec = idCodec(t.postgres ? 'postgres' : 'sqlite');
  let after: { environment: number; id: unknown } | null = null;
  for (;;) {
    let query = db
      .selectFrom('activity_events as e')
      .innerJoin('activity_refs as env', 'env.id', 'e.environment')
      .innerJoin('activity_refs as f', 'f.id', 'e.field')
      .innerJoin('activity_refs as a', 'a.id', 'e.actor')
      .leftJoin('activity_refs as k', 'k.id', 'e.api_key')
      .select(['e.environment', 'e.id', 'e.operation', 'e.outcome', 'e.error_code', 'e.actor_type', 'e.request_id'])
      .select(['env.ref as environment_id', 'f.ref as field', 'a.ref as actor', 'k.ref as api_key_id']);
    if (after) query = query.where(sql<boolean>`(e.environment, e.id) > (${after.environment}, ${after.id})`);
    const batch = await query.orderBy('e.environment').orderBy('e.id').limit(1000).execute();
    if (batch.length === 0) break;
    await db
      .insertInto('activity_events_v1')
      .values(
        batch.map((r) => {
          const bytes = codec.decode(r.id);
          const actor = actorOfRef(r.actor);
          return {
            id: activityIdOf(bytes),
            account_id: null,
            environment_id: r.environment_id,
            action: activityLabel(r.field),
            field: r.field,
            operation_type: operationCodes.value(Number(r.operation)),
            outcome: outcomeCodes.value(Number(r.outcome)),
            error_code: r.error_code,
            actor_type: actorTypeCodes.value(Number(r.actor_type)),
            actor_id: actor.id,
            actor_name: actor.displayName,
            api_key_id: r.api_key_id,
            request_id: r.request_id,
            created_at: new Date(timeOfBytes(bytes)).toISOString(),
          };
        }),
      )
      .execute();
    after = { environment: batch.at(-1)!.environment, id: batch.at(-1)!.id };
  }
  if (t.postgres) for (const p of await listPartitions(db)) await sql`drop table if exists ${sql.id(p.name)}`.execute(db);
  for (const table of ['activity_counts', 'activity_events', 'activity_refs']) await db.schema.dropTable(table).execute();
  await db.schema.alterTable('activity_events_v1').renameTo('activity_events').execute();
  if (t.postgres)
    await sql`alter table activity_events rename constraint activity_events_v1_pkey to activity_events_pkey`.execute(db);
  await db.schema
    .createIndex('activity_events_environment_idx')
    .on('activity_events')
    .columns(['environment_id', 'id'])
    .execute();
}
