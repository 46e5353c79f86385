import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate } from '../../src/app.js';
import { failAuditInserts, freshDatabaseUrl } from '../harness/database.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate, testKeygateConfig } from '../harness/keygate.js';

const t: TestKeygate = await startTestKeygate();
let tenant: Tenant;
beforeAll(async () => {
  tenant = await seedTenant(t);
});

const get = (path: string) => t.keygate.yoga.fetch(`http://keygate.test${path}`, { method: 'GET' });

describe('/health and /ready', () => {
  it('/health answers 200', async () => {
    const res = await get('/health');
    expect(res.status).toBe(200);
  });
  it('/ready answers 200 while the database answers', async () => {
    const res = await get('/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ database: 'ok' });
  });
  it('/ready answers 503 once the database is closed, /health still 200', async () => {
    const keygate = await createKeygate({
      config: await testKeygateConfig({ databaseUrl: await freshDatabaseUrl() }),
    });
    const ready = () => Promise.resolve(keygate.yoga.fetch('http://keygate.test/ready'));
    try {
      expect((await ready()).status).toBe(200);
      await keygate.deps.database.close();
      const res = await ready();
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ database: 'unreachable' });
      expect((await keygate.yoga.fetch('http://keygate.test/health')).status).toBe(200);
    } finally {
      await Promise.all([keygate.deps.activity.close(), keygate.deps.notifications.close()]).catch(() => {});
    }
  });
});

describe('/metrics', () => {
  it('exposes every metric with its labels in Prometheus text after traffic', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    expect((await t.query('{ viewer { kind } }', {}, { key })).status).toBe(200);
    expect((await t.query('{ viewer { kind } }', {}, { key })).status).toBe(200);
    expect((await t.query('{ viewer { kind } }', {}, null)).status).toBe(401);
    expect((await t.query('{ viewer { kind } }', {}, { key: 'server-wrong' })).status).toBe(401);
    const scoped = await tenant.scopedKey(['coupons:read']);
    await t.query('{ apiKeys { totalCount } }', {}, { key: scoped.secret });

    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      'keygate_operations_total',
      'keygate_http_request_duration_seconds',
      'keygate_authentication_failures_total',
      'keygate_rate_limited_total',
      'keygate_activity_queue_depth',
      'keygate_database_statements_total',
      'keygate_key_cache_keys',
      'keygate_key_cache_bytes',
      'keygate_key_cache_lookups_total',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
      expect(text).toContain(`# HELP ${name} `);
    }
    expect(text).toMatch(/^keygate_operations_total\{operation="viewer",outcome="SUCCESS"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_operations_total\{operation="apiKeys",outcome="DENIED"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_http_request_duration_seconds_bucket\{le="\+Inf",status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_http_request_duration_seconds_bucket\{le="\+Inf",status="401"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_http_request_duration_seconds_count\{status="200"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_http_request_duration_seconds_sum\{status="200"\} [\d.e-]+$/m);
    expect(text).toMatch(/^keygate_authentication_failures_total\{reason="missing"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_authentication_failures_total\{reason="invalid"\} [1-9]\d*$/m);
    expect(text).toMatch(/^# TYPE keygate_rate_limited_total counter$/m);
    expect(text).toMatch(/^keygate_activity_queue_depth \d+$/m);
    // The full access key was read, then found in the cache; the scoped key was read.
    expect(text).toMatch(/^keygate_key_cache_keys [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_key_cache_bytes [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_key_cache_lookups_total\{result="hit"\} [1-9]\d*$/m);
    expect(text).toMatch(/^keygate_key_cache_lookups_total\{result="miss"\} [1-9]\d*$/m);
  });

  it('counts the SQL statements sent to the database', async () => {
    const statements = async () => {
      const text = await (await get('/metrics')).text();
      return Number(/^keygate_database_statements_total (\d+)$/m.exec(text)?.[1]);
    };
    const before = await statements();
    expect(before).toBeGreaterThan(0);
    const res = await t.query('{ customers(first: 5) { edges { node { id } } } }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(res.status).toBe(200);
    expect(await statements()).toBeGreaterThanOrEqual(before + 1);
  });

  it('with KEYGATE_METRICS_TOKEN set, answers only that bearer token (401 UNAUTHENTICATED otherwise)', async () => {
    const keygate = await createKeygate({
      config: await testKeygateConfig({ databaseUrl: await freshDatabaseUrl(), metricsToken: 'scrape-me-7f3a' }),
    });
    afterAll(() => keygate.close());
    const scrape = (authorization?: string) =>
      keygate.yoga.fetch('http://keygate.test/metrics', { headers: authorization ? { authorization } : {} });
    for (const attempt of [undefined, 'Bearer wrong', 'Bearer scrape-me-7f3', 'scrape-me-7f3a', 'Bearer scrape-me-7f3a ']) {
      const res = await scrape(attempt);
      expect(res.status, String(attempt)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = await res.json();
      expect(codes(body)).toEqual(['UNAUTHENTICATED']);
      expect(JSON.stringify(body)).not.toContain('scrape-me');
    }
    const res = await scrape('Bearer scrape-me-7f3a');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('# TYPE keygate_operations_total counter');
  });

  it('counts rate-limited requests by limit', async () => {
    const keygate = await createKeygate({
      config: await testKeygateConfig({
        databaseUrl: await freshDatabaseUrl(),
        rateLimit: { perKey: 0, overrides: new Map(), failedAuthPerMinute: 1 },
      }),
    });
    afterAll(() => keygate.close());
    const post = (key: string) =>
      keygate.yoga.fetch('http://keygate.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ query: '{ viewer { kind } }' }),
      });
    expect((await post('server-bad')).status).toBe(401);
    expect((await post('server-bad')).status).toBe(429);
    const text = await (await keygate.yoga.fetch('http://keygate.test/metrics')).text();
    expect(text).toMatch(/^keygate_rate_limited_total\{limit="failed_auth_address"\} 1$/m);
  });
});

describe('request id', () => {
  it('is in x-request-id of every response and echoes a sane incoming X-Request-Id', async () => {
    const res = await t.fetch({ query: '{ viewer { kind } }' }, { 'x-api-key': tenant.dev.fullAccessKey.secret });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const anon = await t.fetch({ query: '{ viewer { kind } }' }, {});
    expect(anon.status).toBe(401);
    expect(anon.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await t.fetch({ query: '{ viewer { kind } }' }, { 'x-request-id': 'trace-abc-12345' });
    expect(echoed.headers.get('x-request-id')).toBe('trace-abc-12345');
  });

  it('equals extensions.requestId of a masked INTERNAL error', async () => {
    const lift = await failAuditInserts(t.keygate.deps.db, 'KEY_CREATED');
    try {
      const res = await t.fetch(
        { query: 'mutation { createScopedKey(input: { name: "boom", scopes: ["coupons:read"] }) { secret } }' },
        { 'x-api-key': tenant.dev.fullAccessKey.secret },
      );
      const body = await res.json();
      expect(codes(body)).toEqual(['INTERNAL']);
      const requestId = body.errors[0].extensions.requestId;
      expect(requestId).toBeTruthy();
      expect(res.headers.get('x-request-id')).toBe(requestId);
      expect(body.errors[0].message).toBe(`Internal error. Request id: ${requestId}`);
      expect(JSON.stringify(body)).not.toMatch(/audit storage|insert|sqlite|postgres|trigger|stack/i);
    } finally {
      await lift();
    }
  });
});
