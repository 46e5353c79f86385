import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionResult } from 'graphql';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../src/client/generated/graphql.js';
import { HOUR } from '../../src/shared/clock.js';
import { codes, seedTenant, setKeyColumns, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

let t: TestKeygate;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
});

const viewer = (headers: Record<string, string>) => t.run(ViewerDocument, {}, { headers });

describe('authentication', () => {
  it('accepts an API key in X-API-Key and in Authorization: Bearer', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const variants: Record<string, string>[] = [
      { 'x-api-key': key },
      { authorization: `Bearer ${key}` },
      { authorization: `bearer ${key}` },
    ];
    for (const headers of variants) {
      const { status, body } = await viewer(headers);
      expect(status).toBe(200);
      expect(body.data?.viewer.kind).toBe('API_KEY');
      expect(body.data?.viewer.apiKey?.id).toBe(tenant.dev.fullAccessKey.row.id);
    }
  });

  it('accepts a session token and identifies the user with their memberships', async () => {
    const { body } = await viewer({ authorization: `Bearer ${tenant.owner.token}` });
    expect(body.data?.viewer).toMatchObject({
      kind: 'USER',
      permissions: [],
      user: { id: tenant.owner.id, email: tenant.owner.email },
      memberships: [{ role: 'OWNER', account: { id: tenant.accountId, plan: 'SCALE' } }],
      apiKey: null,
      environment: null,
    });
  });

  it('answers every failure with the same 401 message, never hinting whether the key exists', async () => {
    const expired = await tenant.scopedKey(['customers:read']);
    await setKeyColumns(t, expired.row.id, { revoked_at: t.clock.now().toISOString() });
    const cases: Record<string, string>[] = [
      {},
      { 'x-api-key': '' },
      { 'x-api-key': 'server-short' },
      { 'x-api-key': expired.secret },
      { 'x-api-key': 'x'.repeat(10_000) },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer not.a.jwt' },
      // Two different credentials at once are ambiguous.
      { 'x-api-key': tenant.dev.fullAccessKey.secret, authorization: `Bearer ${tenant.owner.token}` },
    ];
    const messages = new Set<string>();
    for (const headers of cases) {
      const { status, body } = await viewer(headers);
      expect(status, JSON.stringify(headers).slice(0, 80)).toBe(401);
      expect(codes(body)).toEqual(['UNAUTHENTICATED']);
      messages.add(body.errors![0]!.message);
    }
    expect(messages.size).toBe(1);
  });

  it('refuses forged session tokens: alg none, wrong secret, expired, no exp', async () => {
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const none = new UnsecuredJWT({})
      .setSubject(tenant.owner.id)
      .setIssuer('keygate')
      .setExpirationTime(now + 3600)
      .encode();
    const wrongSecret = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(tenant.owner.id)
      .setIssuer('keygate')
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode('x'.repeat(32)));
    const expired = await t.keygate.deps.sessions.mint(tenant.owner.id, 60);
    t.clock.advance(HOUR);
    try {
      for (const token of [none, wrongSecret, expired]) {
        const { status } = await viewer({ authorization: `Bearer ${token}` });
        expect(status).toBe(401);
      }
    } finally {
      t.clock.advance(-HOUR);
    }
  });

  it('fails a key the instant it expires (status is computed from the clock)', async () => {
    const key = await tenant.scopedKey(['customers:read']);
    const expiry = new Date(t.clock.now().getTime() + HOUR);
    await setKeyColumns(t, key.row.id, { expires_at: expiry.toISOString() });
    expect((await viewer({ 'x-api-key': key.secret })).status).toBe(200);
    t.clock.set(new Date(expiry.getTime() - 1));
    expect((await viewer({ 'x-api-key': key.secret })).status).toBe(200);
    t.clock.set(expiry);
    expect((await viewer({ 'x-api-key': key.secret })).status).toBe(401);
    t.clock.set('2026-06-01T12:00:00.000Z');
  });

  it('reports the publishable key with its fixed client scope', async () => {
    const { body } = await viewer({ 'x-api-key': tenant.dev.publishableKey.secret });
    expect(body.data?.viewer).toMatchObject({
      kind: 'API_KEY',
      permissions: ['customers:read_public', 'subscriptions:read_public'],
      apiKey: { type: 'PUBLISHABLE', name: 'Publishable key' },
      environment: { id: tenant.dev.id, slug: 'development' },
    });
  });

  it('records lastUsedAt off the request path, in a later batch', async () => {
    const key = await tenant.scopedKey(['customers:read']);
    await viewer({ 'x-api-key': key.secret });
    await t.keygate.deps.keyUsage.flush();
    const row = await t.keygate.deps.db
      .selectFrom('api_keys')
      .select('last_used_at')
      .where('id', '=', key.row.id)
      .executeTakeFirstOrThrow();
    expect(row.last_used_at).toBe(t.clock.now().toISOString());
  });

  it('shows the latest recorded use in viewer.apiKey.lastUsedAt while the key itself stays cached', async () => {
    const key = await tenant.scopedKey(['customers:read']);
    const lastUsedAt = async () =>
      (await t.query('{ viewer { apiKey { lastUsedAt } } }', {}, { key: key.secret })).body.data!.viewer.apiKey.lastUsedAt;
    const first = t.clock.now().toISOString();
    // The first request caches the key, whose row has no use yet.
    expect(await lastUsedAt()).toBeNull();
    await t.keygate.deps.keyUsage.flush();
    expect(await lastUsedAt()).toBe(first);
    t.clock.advance(2 * 60_000);
    try {
      const later = t.clock.now().toISOString();
      await lastUsedAt();
      await t.keygate.deps.keyUsage.flush();
      expect(await lastUsedAt()).toBe(later);
    } finally {
      t.clock.advance(-2 * 60_000);
    }
  });

  it('returns a request id header on every response', async () => {
    const ok = await t.fetch({ query: '{ viewer { kind } }' }, { 'x-api-key': tenant.dev.fullAccessKey.secret });
    const denied = await t.fetch({ query: '{ viewer { kind } }' });
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(denied.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

/**
 * Sends header lines exactly as given (repeats included) over a real socket:
 * Fetch `Headers` would merge repeated lines into one, so yoga.fetch cannot.
 * (Given an array of lines, node:http adds no Host line of its own.)
 */
function postLines(url: string, lines: [string, string][]): Promise<{ status: number; body: ExecutionResult }> {
  const { host } = new URL(url);
  const all = [['host', host], ['content-type', 'application/json'], ...lines];
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: all.flat() }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`HTTP ${res.statusCode}, not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query: '{ viewer { kind } }' }));
  });
}

describe('repeated credential header lines, over a real HTTP socket', () => {
  let url = '';
  beforeAll(async () => {
    const server = createServer(t.keygate.yoga);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });

  it('refuses two different credentials in repeated lines, whatever their order (SPEC §2)', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const other = tenant.prod.fullAccessKey.secret;
    const pairs: [[string, string], [string, string]][] = [
      [
        ['authorization', `Bearer ${key}`],
        ['authorization', `Bearer ${tenant.owner.token}`],
      ],
      [
        ['authorization', `Bearer ${key}`],
        ['authorization', `Bearer ${other}`],
      ],
      [
        ['authorization', `Bearer ${key}`],
        ['authorization', 'Basic dXNlcjpwYXNz'],
      ],
      [
        ['x-api-key', key],
        ['x-api-key', other],
      ],
      [
        ['x-api-key', key],
        ['authorization', `Bearer ${other}`],
      ],
    ];
    for (const [i, [first, second]] of pairs.entries()) {
      for (const lines of [
        [first, second],
        [second, first],
      ]) {
        const { status, body } = await postLines(url, lines);
        expect(status, `pair ${i}, ${lines[0]![0]} line first`).toBe(401);
        expect(codes(body)).toEqual(['UNAUTHENTICATED']);
      }
    }
    // A third line that disagrees spoils two that agree.
    const three: [string, string][] = [
      ['x-api-key', key],
      ['authorization', `Bearer ${key}`],
      ['Authorization', `Bearer ${other}`],
    ];
    expect((await postLines(url, three)).status).toBe(401);
  });

  it('accepts the same credential repeated: every line names one caller, so nothing is ambiguous', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const same: [string, string][][] = [
      [
        ['authorization', `Bearer ${key}`],
        ['authorization', `Bearer ${key}`],
      ],
      [
        ['x-api-key', key],
        ['X-API-Key', key],
      ],
      [
        ['x-api-key', key],
        ['authorization', `bearer ${key}`],
        ['authorization', `Bearer ${key}`],
      ],
      [
        ['authorization', `Bearer ${tenant.owner.token}`],
        ['authorization', `Bearer ${tenant.owner.token}`],
      ],
    ];
    for (const [i, lines] of same.entries()) {
      const { status, body } = await postLines(url, lines);
      expect(status, `case ${i}`).toBe(200);
      expect(body.errors).toBeUndefined();
    }
  });
});
