import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/database/connect.js';

describe('embedded SQLite', () => {
  it('runs with WAL and foreign keys on', async () => {
    const dir = mkdtempSync(`${tmpdir()}/keygate-db-`);
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

describe('prepared statement cache', () => {
  it('reuses statements safely: repeated queries see current rows, and a statement prepared before a schema change sees the change', async () => {
    const handle = await connectDatabase({ url: ':memory:' });
    try {
      const db = handle.db as unknown as import('kysely').Kysely<{ t: { n: number; label?: string } }>;
      await sql`create table t (n integer not null)`.execute(db);
      for (let n = 1; n <= 3; n++) await db.insertInto('t').values({ n }).execute();
      const all = () => db.selectFrom('t').selectAll().orderBy('n').execute();
      expect(await all()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);

      // Repeated and interleaved queries each see the current rows.
      await db.insertInto('t').values({ n: 4 }).execute();
      expect(await all()).toHaveLength(4);
      await db.deleteFrom('t').where('n', '=', 4).execute();
      expect(await all()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);

      // A schema change reaches a statement prepared before it.
      await sql`alter table t add column label text`.execute(db);
      await db.updateTable('t').set({ label: 'x' }).where('n', '=', 2).execute();
      expect(await all()).toEqual([
        { n: 1, label: null },
        { n: 2, label: 'x' },
        { n: 3, label: null },
      ]);
    } finally {
      await handle.close();
    }
  });
});
