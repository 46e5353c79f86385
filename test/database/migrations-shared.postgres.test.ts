import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../db/migrations/index.js';
import { connectDatabase } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrator.js';
import { freshDatabaseUrl } from '../harness/database.js';

/**
 * Many deployments (and test runs) share one PostgreSQL database, a schema
 * each. Migrating one must neither read the others nor fail while they
 * change: Kysely's migrator, left alone, introspects every table of every
 * schema and fails when one is dropped meanwhile.
 */
describe('migrations on a database that other schemas share', () => {
  it('apply while another schema creates and drops tables, and read no other schema', async () => {
    const other = await freshDatabaseUrl();
    const churn = new pg.Client({ connectionString: other });
    await churn.connect();
    let running = true;
    const churning = (async () => {
      for (let i = 0; running; i++) {
        await churn.query(`create table churn_${i} (id int, a text, b text)`);
        if (i > 0) await churn.query(`drop table churn_${i - 1}`);
      }
    })();
    try {
      for (let run = 0; run < 5; run++) {
        const handle = await connectDatabase({ url: await freshDatabaseUrl(), poolSize: 2 });
        const statements: string[] = [];
        const stop = handle.observe((text) => statements.push(text));
        try {
          expect(await migrateToLatest(handle.db)).toEqual(Object.keys(migrations));
        } finally {
          stop();
          await handle.close();
        }
        // The catalogue of every schema's columns is what Kysely's own introspection reads.
        expect(statements.filter((s) => s.includes('pg_attribute'))).toEqual([]);
      }
    } finally {
      running = false;
      await churning;
      await churn.end();
    }
  });
});
