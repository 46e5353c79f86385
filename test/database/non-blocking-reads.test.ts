import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server.js';
import { dialect, freshDatabaseUrl } from '../harness/database.js';
import { besideHeavyRead, graphqlOver, KEYS_QUERY, slowKeyReads } from '../harness/heavy-reads.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * Issue 15, "a slow read never stalls the gateway": list and count reads run
 * where a long one blocks no other request (reader processes on a SQLite
 * file, the pool on PostgreSQL), and one past the statement timeout is
 * answered with a coded error, not a hang. The heavy read is real: the
 * apiKeys query over HTTP, on a table made slow to read (harness/heavy-reads.ts).
 */

/** A Keygate on a file database (SQLite readers need one; PostgreSQL gets its own schema). */
async function fileKeygate(config: { statementTimeoutMs: number }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-reads-'));
  return startTestKeygate({ databaseUrl: await freshDatabaseUrl({ fileDir: dir }), ...config });
}

/** fileKeygate behind a real HTTP server. */
async function servedKeygate(config: { statementTimeoutMs: number }) {
  const t = await fileKeygate(config);
  const server = await startServer(t.keygate, { port: 0, host: '127.0.0.1' });
  // The harness closes Keygate itself; only the HTTP server is ours to stop.
  afterAll(() => new Promise<void>((resolve) => server.server.close(() => resolve())));
  return { t, server };
}

describe('a heavy list and count read', () => {
  let t: TestKeygate;
  let server: RunningServer;
  let tenant: Tenant;
  beforeAll(async () => {
    ({ t, server } = await servedKeygate({ statementTimeoutMs: 60_000 }));
    tenant = await seedTenant(t);
  });

  it('stalls no other request: viewer calls and /health answer while it runs, and its result is right', async () => {
    const graphql = graphqlOver(server.url, tenant.owner.token);
    // A first read starts a reader (SQLite), so the heavy one below measures reading, not a start.
    expect((await graphql(KEYS_QUERY, { env: tenant.dev.id })).body.data.apiKeys.totalCount).toBe(2);
    const restore = await slowKeyReads(t.keygate.deps.db, 'heavy');
    try {
      const run = await besideHeavyRead(server.url, tenant.owner.token, t.keygate.deps.reads, () =>
        graphql(KEYS_QUERY, { env: tenant.dev.id }),
      );
      console.log(
        `[${dialect}] beside a heavy apiKeys read: ${run.viewerCalls} viewer calls (p99 ${run.viewerP99.toFixed(1)} ms), ` +
          `${run.viewerInsideRead} of them inside a heavy statement; ${run.healthChecks} /health, ${run.healthInsideRead} inside`,
      );
      expect(run.heavy.body.errors).toBeUndefined();
      expect(run.heavy.body.data.apiKeys).toEqual({
        totalCount: 2,
        edges: [{ node: { id: tenant.dev.fullAccessKey.row.id } }, { node: { id: tenant.dev.publishableKey.row.id } }],
      });
      expect(run.viewerInsideRead).toBeGreaterThan(0);
      expect(run.healthInsideRead).toBeGreaterThan(0);
    } finally {
      await restore();
    }
  });
});

describe('a read past the statement timeout', () => {
  let t: TestKeygate;
  let server: RunningServer;
  let tenant: Tenant;
  beforeAll(async () => {
    ({ t, server } = await servedKeygate({ statementTimeoutMs: 1000 }));
    tenant = await seedTenant(t);
  });

  it('is answered 503 with Retry-After and a coded error instead of hanging, and reads work again after it', async () => {
    const graphql = graphqlOver(server.url, tenant.owner.token);
    expect((await graphql(KEYS_QUERY, { env: tenant.dev.id })).body.data.apiKeys.totalCount).toBe(2);
    const restore = await slowKeyReads(t.keygate.deps.db, 'endless');
    let stopped: Awaited<ReturnType<typeof graphql>>;
    try {
      stopped = await graphql(KEYS_QUERY, { env: tenant.dev.id });
    } finally {
      await restore();
    }
    expect(stopped.status).toBe(503);
    expect(stopped.retryAfter).toBe('1');
    expect(stopped.body.data).toBeNull();
    expect(stopped.body.errors).toHaveLength(1);
    expect(stopped.body.errors![0]!.message).toMatch(/^Service temporarily unavailable\. Request id: /);
    expect(stopped.body.errors![0]!.extensions).toMatchObject({ code: 'INTERNAL' });
    expect(JSON.stringify(stopped.body)).not.toMatch(/api_keys|select|57014|pg_sleep|reader/i);
    const again = await graphql(KEYS_QUERY, { env: tenant.dev.id });
    expect(again.status).toBe(200);
    expect(again.body.data.apiKeys.totalCount).toBe(2);
  });
});

describe('reads', () => {
  let t: TestKeygate;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await fileKeygate({ statementTimeoutMs: 60_000 });
    tenant = await seedTenant(t);
  });

  it('carry the list and count of apiKeys, customers and coupons', async () => {
    const { reads } = t.keygate.deps;
    const sent = reads.stats.sent;
    const { body } = await t.query(
      'query ($env: ID!) { apiKeys(environmentId: $env) { totalCount } customers(environmentId: $env) { totalCount } coupons(environmentId: $env) { totalCount } }',
      { env: tenant.dev.id },
      { token: tenant.owner.token },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ apiKeys: { totalCount: 2 }, customers: { totalCount: 0 }, coupons: { totalCount: 0 } });
    expect(reads.stats.sent - sent).toBe(6);
  });

  it("carry activity's page and its count, which answer what was written", async () => {
    const { reads } = t.keygate.deps;
    await t.query(
      'query ($env: ID!) { apiKeys(environmentId: $env) { totalCount } }',
      { env: tenant.dev.id },
      { token: tenant.owner.token },
    );
    const sent = reads.stats.sent;
    const { body } = await t.query(
      'query ($env: ID!) { activity(environmentId: $env, first: 50) { totalCount edges { node { field } } } }',
      { env: tenant.dev.id },
      { token: tenant.owner.token },
    );
    expect(body.errors).toBeUndefined();
    const fields = body.data!.activity.edges.map((e: { node: { field: string } }) => e.node.field);
    expect(fields).toContain('apiKeys');
    expect(body.data!.activity.totalCount).toBe(fields.length);
    // One statement for the page, at least one for the count (the hourly counters).
    expect(reads.stats.sent - sent).toBeGreaterThanOrEqual(2);
  });

  it('run only SELECTs: a write built on reads.db is refused and changes nothing', async () => {
    const { reads, db } = t.keygate.deps;
    await expect(reads.db.deleteFrom('api_keys').execute()).rejects.toThrow('Reads run only SELECTs, not a DeleteQueryNode.');
    await expect(reads.db.transaction().execute(async () => {})).rejects.toThrow(/outside transactions/);
    const left = await db
      .selectFrom('api_keys')
      .select(sql<number>`count(*)`.as('n'))
      .where('environment_id', '=', tenant.dev.id)
      .executeTakeFirstOrThrow();
    expect(Number(left.n)).toBe(2);
  });

  it('take a query built on the main db (reads.all) or compiled (reads.execute)', async () => {
    const { reads, db } = t.keygate.deps;
    const query = db.selectFrom('api_keys').select('id').where('environment_id', '=', tenant.dev.id).orderBy('id');
    const ids = [tenant.dev.fullAccessKey.row.id, tenant.dev.publishableKey.row.id];
    expect((await reads.all(query)).map((r) => r.id)).toEqual(ids);
    expect((await reads.execute(query.compile())).map((r) => r.id)).toEqual(ids);
  });
});
