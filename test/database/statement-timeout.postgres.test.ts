import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { withoutStatementTimeout } from '../../src/database/migrator.js';
import { freshDatabaseUrl } from '../harness/database.js';

/**
 * KEYGATE_STATEMENT_TIMEOUT_MS on PostgreSQL: the server cancels a statement
 * past it on every pooled connection (57014, answered 503 by the error
 * funnel: see non-blocking-reads.test.ts over HTTP), while migrations run
 * without it.
 */
describe('the PostgreSQL statement timeout', () => {
  let database: DatabaseHandle;
  beforeAll(async () => {
    // One connection, so the migration's own connection is the one checked afterwards.
    database = await connectDatabase({ url: await freshDatabaseUrl(), poolSize: 1, statementTimeoutMs: 200 });
  });
  afterAll(() => database?.close());

  it('cancels a statement past it with 57014, on the pool and through reads', async () => {
    await expect(sql`select pg_sleep(2)`.execute(database.db)).rejects.toMatchObject({ code: '57014' });
    await expect(database.reads.execute(sql`select pg_sleep(2)`.compile(database.db))).rejects.toMatchObject({
      code: '57014',
    });
    expect((await sql<{ ok: number }>`select 1 as ok`.execute(database.db)).rows).toEqual([{ ok: 1 }]);
  });

  it('is lifted for migrations, and the connection has it again afterwards', async () => {
    // A migration building an index over a large table may take minutes: it must not be cancelled.
    const slept = await withoutStatementTimeout(database.db, (connection) => sql`select pg_sleep(0.5)`.execute(connection));
    expect(slept.rows).toHaveLength(1);
    const { rows } = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(database.db);
    expect(rows).toEqual([{ statement_timeout: '200ms' }]);
    await expect(sql`select pg_sleep(2)`.execute(database.db)).rejects.toMatchObject({ code: '57014' });
  });
});
