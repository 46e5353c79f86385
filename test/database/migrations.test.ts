import { type Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../db/migrations/index.js';
import { connectDatabase } from '../../src/database/connect.js';
import { migrateDownToZero, migrateToLatest } from '../../src/database/migrator.js';
import { dialect, freshDatabaseUrl } from '../harness/database.js';

/** Keygate's tables in this database (its own schema on PostgreSQL), without the migrator's. */
async function tables(db: Kysely<any>): Promise<string[]> {
  const rows =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db)
      : await sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(db);
  return rows.rows
    .map((r) => r.name)
    .filter((n) => !n.startsWith('kysely_'))
    .sort();
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
        'activity_events',
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
      ]);
      expect(await migrateToLatest(handle.db)).toEqual([]);
      expect(await migrateDownToZero(handle.db)).toEqual([...names].reverse());
      expect(await tables(handle.db)).toEqual([]);
      expect(await migrateToLatest(handle.db)).toEqual(names);
    } finally {
      await handle.close();
    }
  });
});
