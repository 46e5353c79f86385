import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../db/migrations/index.js';
import { connectDatabase } from '../../src/database/connect.js';
import { migrateDownToZero, migrateToLatest } from '../../src/database/migrator.js';

async function tables(db: Awaited<ReturnType<typeof connectDatabase>>['db']): Promise<string[]> {
  const rows = await sql<{
    name: string;
  }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' order by name`.execute(
    db,
  );
  return rows.rows.map((r) => r.name);
}

describe('migrations', () => {
  it('apply in date order, undo completely, and apply again', async () => {
    const handle = await connectDatabase({ url: ':memory:' });
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

  it('runs SQLite with WAL and foreign keys on', async () => {
    const { mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync(`${(await import('node:os')).tmpdir()}/keygate-db-`);
    const handle = await connectDatabase({ url: `file:${dir}/k.db` });
    try {
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(handle.db);
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(handle.db);
      expect(mode.rows[0]!.journal_mode).toBe('wal');
      expect(fk.rows[0]!.foreign_keys).toBe(1);
    } finally {
      await handle.close();
    }
  });
});
