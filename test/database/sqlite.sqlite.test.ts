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
