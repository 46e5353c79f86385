import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * A PostgreSQL-only refusal: PostgreSQL refuses NUL in text (22021) and jsonb
 * (22P05) where SQLite stores it, so this has no SQLite twin. The input-text
 * rule stops NUL before any query, so the database's own refusal is raised
 * by a trigger here; it must reach the caller as BAD_USER_INPUT, not INTERNAL.
 */
describe('a NUL refusal that reaches PostgreSQL', () => {
  let t: TestKeygate;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await startTestKeygate();
    tenant = await seedTenant(t);
  });

  it('(22021 text, 22P05 jsonb) → BAD_USER_INPUT, not masked to INTERNAL, and the server goes on', async () => {
    const db = t.keygate.deps.db;
    await sql
      .raw(`create function refuse_nul() returns trigger language plpgsql as $$
        begin raise exception 'refused' using errcode = substr(new.customer_id, 11); end $$`)
      .execute(db);
    await sql
      .raw(`create trigger refuse_nul before insert on customers for each row
        when (new.customer_id like 'refuse-nul%') execute function refuse_nul()`)
      .execute(db);
    try {
      for (const [sqlState, kind] of [
        ['22021', 'Text'],
        ['22P05', 'JSON'],
      ]) {
        const { status, body } = await t.query(
          `mutation { createCustomer(input: { customerId: "refuse-nul${sqlState}" }) { customer { id } } }`,
          {},
          { key: tenant.dev.fullAccessKey.secret },
        );
        expect(status).toBe(200);
        expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
        expect(body.errors![0]!.message).toBe(`${kind} arguments must not contain NUL (\\u0000) characters.`);
      }
    } finally {
      await sql.raw('drop function refuse_nul() cascade').execute(db);
    }
    const { body } = await t.query('{ viewer { kind } }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(body.data).toEqual({ viewer: { kind: 'API_KEY' } });
  });
});
