import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Sqlite from 'better-sqlite3';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { Checkpointer } from '../../src/database/checkpointer.js';
import { connectDatabase } from '../../src/database/connect.js';

const until = async (done: () => boolean, ms = 10_000) => {
  for (const start = Date.now(); !done(); ) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('WAL checkpoints off the event loop', () => {
  it("runs a SQLite file's checkpoints on the worker thread: the main connection's commits no longer checkpoint, and the worker copies the log back", async () => {
    const dir = mkdtempSync(`${tmpdir()}/keygate-ckpt-`);
    const handle = await connectDatabase({ url: `file:${dir}/k.db` });
    try {
      const checkpointer = handle.checkpointer!;
      await until(() => checkpointer.stats.running);
      const auto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(handle.db);
      expect(auto.rows[0]!.wal_autocheckpoint).toBe(0);

      // About 2,500 pages of log: past SQLite's own 1,000-page checkpoint, which the main connection no longer runs.
      await sql`create table t (n integer primary key, pad blob not null)`.execute(handle.db);
      for (let batch = 0; batch < 10; batch++) {
        await sql`insert into t (pad) select randomblob(1000) from (with recursive c(i) as (select 1 union all select i + 1 from c where i < 1000) select i from c)`.execute(
          handle.db,
        );
      }
      await until(() => checkpointer.stats.pages >= 2000 && checkpointer.backlog === 0);
      expect(checkpointer.stats.checkpoints).toBeGreaterThan(0);
      await checkpointer.caughtUp(1000);
      const rows = await sql<{ n: number }>`select count(*) as n from t`.execute(handle.db);
      expect(rows.rows[0]!.n).toBe(10_000);
    } finally {
      await handle.close();
    }
  });

  it('gives the checkpoints back to the main connection when the worker cannot run', async () => {
    const dir = mkdtempSync(`${tmpdir()}/keygate-ckpt-`);
    const main = new Sqlite(`${dir}/k.db`);
    main.pragma('journal_mode = WAL');
    main.pragma('wal_autocheckpoint = 0');
    // A file the worker cannot open (it never creates one): it fails, and SQLite's default comes back.
    const checkpointer = new Checkpointer(main, `${dir}/missing.db`);
    try {
      await until(() => main.pragma('wal_autocheckpoint', { simple: true }) === 1000);
      expect(checkpointer.stats.running).toBe(false);
      // Nothing waits on a worker that is not there.
      await checkpointer.caughtUp(60_000);
    } finally {
      await checkpointer.close();
      main.close();
    }
  });
});
