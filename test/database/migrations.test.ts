import { type Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../db/migrations/index.js';
import { connectDatabase } from '../../src/database/connect.js';
import { createMigrator, migrateDownToZero, migrateToLatest } from '../../src/database/migrator.js';
import { ActivityRefs } from '../../src/modules/activity/activity.refs.js';
import { countActivityEvents, storedActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { ulid } from '../../src/shared/ids.js';
import { dialect, freshDatabaseUrl } from '../harness/database.js';

/** Keygate's tables in this database (its own schema on PostgreSQL), without the migrator's. */
async function tables(db: Kysely<any>): Promise<string[]> {
  const rows =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db)
      : await sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(db);
  return (
    rows.rows
      .map((r) => r.name)
      .filter((n) => !n.startsWith('kysely_'))
      // PostgreSQL's daily activity partitions (activity.partitions.ts) are the one table's parts.
      .filter((n) => !/^activity_events_p\d{8}$/.test(n))
      .sort()
  );
}

describe(`migrations (${dialect})`, () => {
  it('apply in date order, undo completely, and apply again', async () => {
    const handle = await connectDatabase({ url: await freshDatabaseUrl() });
    try {
      const names = Object.keys(migrations);
      expect(names).toEqual([...names].sort());
      expect(await migrateToLatest(handle.db)).toEqual(names);
      expect(await tables(handle.db)).toEqual([
        'accounts',
        'activity_counts',
        'activity_events',
        'activity_refs',
        'api_keys',
        'coupons',
        'customers',
        'environments',
        'identity_keys',
        'integrations',
        'key_audit_events',
        'memberships',
        'subscriptions',
        'users',
        'webhook_deliveries',
        'webhook_endpoints',
        'webhook_events',
      ]);
      expect(await migrateToLatest(handle.db)).toEqual([]);
      expect(await migrateDownToZero(handle.db)).toEqual([...names].reverse());
      expect(await tables(handle.db)).toEqual([]);
      expect(await migrateToLatest(handle.db)).toEqual(names);
    } finally {
      await handle.close();
    }
  });

  it('carry the activity events written before the compact table over, every value in its place, and back again on undo', async () => {
    const handle = await connectDatabase({ url: await freshDatabaseUrl() });
    try {
      const migrator = await createMigrator(handle.db);
      await migrator.migrateTo('2026-12-02T0900_identity_keys');
      const environmentId = 'env_01JCARRYOVER00000000000000';
      const at = (i: number) => Date.UTC(2026, 10, 30, 8, 0, i);
      const old = [
        {
          id: `act_${ulid(at(0))}`,
          outcome: 'SUCCESS',
          error_code: null,
          api_key_id: 'key_01JD00000000000000000000K1',
          actor_type: 'API_KEY',
          actor_id: 'key_01JD00000000000000000000K1',
          actor_name: 'Full access key',
        },
        {
          id: `act_${ulid(at(1))}`,
          outcome: 'DENIED',
          error_code: 'FORBIDDEN',
          api_key_id: null,
          actor_type: 'USER',
          actor_id: 'usr_01JD00000000000000000000U1',
          actor_name: 'Ada',
        },
      ];
      for (const [i, row] of old.entries()) {
        await (handle.db as Kysely<any>)
          .insertInto('activity_events')
          .values({
            ...row,
            account_id: 'acc_01JD00000000000000000000A1',
            environment_id: environmentId,
            action: 'Create customer',
            field: 'createCustomer',
            operation_type: 'mutation',
            request_id: `req-${i}`,
            created_at: new Date(at(i)).toISOString(),
          })
          .execute();
      }
      await migrateToLatest(handle.db);
      const carried = await storedActivityEvents(handle.db, handle.dialect, environmentId);
      expect(
        carried.map((e) => [e.id, e.outcome, e.errorCode, e.apiKeyId, e.actor, e.field, e.operationType, e.requestId]),
      ).toEqual(
        old.map((r, i) => [
          r.id,
          r.outcome,
          r.error_code,
          r.api_key_id,
          { type: r.actor_type, id: r.actor_id, displayName: r.actor_name },
          'createCustomer',
          'mutation',
          `req-${i}`,
        ]),
      );
      // Counted too: the totals of the carried events come from the counters.
      const read = { db: handle.db, dialect: handle.dialect, refs: new ActivityRefs(handle.db), cutoffMs: 0 };
      expect(await countActivityEvents({ ...read, filter: { environmentId } })).toBe(2);
      expect(await countActivityEvents({ ...read, filter: { environmentId, outcome: 'DENIED' } })).toBe(1);

      await migrator.migrateTo('2026-12-02T0900_identity_keys');
      const back = await (handle.db as Kysely<any>)
        .selectFrom('activity_events')
        .select(['id', 'outcome', 'actor_name'])
        .orderBy('id')
        .execute();
      expect(back).toEqual(old.map((r) => ({ id: r.id, outcome: r.outcome, actor_name: r.actor_name })));
    } finally {
      await handle.close();
    }
  });
});
