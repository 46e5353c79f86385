import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { MemoryBuckets, type RateLimitConfig, RateLimiter, TokenBucket } from '../../src/plugins/rate-limit.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { testKeygateConfig } from '../harness/keygate.js';

// Wall-clock time stands still in this file (I/O and timers run normally), so no bucket refills
// between the requests of a burst however slow the machine: the counts below are exact.
vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
afterAll(() => {
  vi.useRealTimers();
});

/** A Keygate with the given rate limits behind a real HTTP server on 127.0.0.1, and two full access keys. */
async function serve(rateLimit: RateLimitConfig) {
  const keygate: Keygate = await createKeygate({
    config: await testKeygateConfig({ databaseUrl: await freshDatabaseUrl(), rateLimit }),
  });
  const server: RunningServer = await startServer(keygate, { port: 0, host: '127.0.0.1' });
  afterAll(() => server.stop());
  const result = await bootstrapAccount(keygate.deps, {
    name: 'Limits',
    plan: 'SCALE',
    ownerEmail: `o-${randomBytes(3).toString('hex')}@x.test`,
  });
  const [dev, prod] = result.environments;
  return { keygate, server, keyA: dev!.fullAccess, keyB: prod!.fullAccess };
}

async function viewer(url: string, headers: Record<string, string>) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query: '{ viewer { kind } }' }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}

/** `n` requests from one key at once; statuses in order of sending. */
async function burst(url: string, key: string, n: number) {
  return Promise.all(Array.from({ length: n }, () => viewer(url, { 'x-api-key': key })));
}

describe('TokenBucket (injected clock)', () => {
  it('starts full at the burst, refuses when empty with Retry-After, refills over time', () => {
    const bucket = new TokenBucket(5, 10, 0);
    for (let i = 0; i < 10; i++) expect(bucket.take(0)).toEqual({ ok: true });
    expect(bucket.take(0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(bucket.peek(0)).toBe(1);
    // 200 ms at 5/s is one token.
    expect(bucket.take(200)).toEqual({ ok: true });
    expect(bucket.take(200).ok).toBe(false);
    // 1 s refills 5 tokens, no more.
    for (let i = 0; i < 5; i++) expect(bucket.take(1200).ok).toBe(true);
    expect(bucket.take(1200).ok).toBe(false);
  });

  it('never holds more than the burst however long it idles', () => {
    const bucket = new TokenBucket(5, 10, 0);
    bucket.take(0);
    const later = 3_600_000;
    let taken = 0;
    for (let i = 0; i < 100 && bucket.take(later).ok; i++) taken++;
    expect(taken).toBe(10);
  });

  it('says how long to wait at a slow rate', () => {
    const bucket = new TokenBucket(0.5, 1, 0); // 30 a minute
    expect(bucket.take(0).ok).toBe(true);
    expect(bucket.take(0)).toEqual({ ok: false, retryAfterSeconds: 2 });
    expect(bucket.peek(1999)).toBe(1);
    expect(bucket.peek(2000)).toBeNull();
  });

  it('RateLimiter: per key buckets, overrides, 0 = off, failed authentications per address', async () => {
    let now = 0;
    const limiter = new RateLimiter(
      {
        perKey: 1,
        overrides: new Map([
          ['k_fast', 3],
          ['k_free', 0],
        ]),
        failedAuthPerMinute: 3,
      },
      new MemoryBuckets(() => now),
    );
    const takes = async (key: string, n: number) => {
      const out: boolean[] = [];
      for (let i = 0; i < n; i++) out.push((await limiter.takeForKey(key)).ok);
      return out;
    };
    expect(await takes('k_slow', 3)).toEqual([true, true, false]);
    expect(await takes('k_fast', 7)).toEqual([true, true, true, true, true, true, false]);
    expect((await takes('k_free', 50)).every(Boolean)).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect(await limiter.blockedAddress('10.0.0.1')).toBeNull();
      await limiter.failedAuthentication('10.0.0.1');
    }
    expect(await limiter.blockedAddress('10.0.0.1')).toBe(20);
    expect(await limiter.blockedAddress('10.0.0.2')).toBeNull();
    now += 20_000;
    expect(await limiter.blockedAddress('10.0.0.1')).toBeNull();

    // Loopback (IPv4, IPv6, IPv4-mapped) is not counted unless asked for.
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      for (let i = 0; i < 5; i++) await limiter.failedAuthentication(address);
      expect(await limiter.blockedAddress(address), address).toBeNull();
    }
    const strict = new RateLimiter(
      { perKey: 0, overrides: new Map(), failedAuthPerMinute: 3, limitLoopback: true },
      new MemoryBuckets(() => now),
    );
    for (let i = 0; i < 3; i++) await strict.failedAuthentication('::1');
    expect(await strict.blockedAddress('::1')).toBe(20);
  });
});

describe('per-key limit over HTTP (5/s, burst 10)', async () => {
  const { server, keyA, keyB } = await serve({ perKey: 5, overrides: new Map(), failedAuthPerMinute: 0 });

  it('refuses the 11th immediate request with 429, Retry-After and RATE_LIMITED; another key is unaffected', async () => {
    const first = await burst(server.url, keyA.secret, 10);
    expect(first.map((r) => r.status)).toEqual(Array(10).fill(200));
    const refused = await viewer(server.url, { 'x-api-key': keyA.secret });
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(refused.body.data).toBeUndefined();
    const other = await viewer(server.url, { 'x-api-key': keyB.secret });
    expect(other.status).toBe(200);
    expect(other.body.data).toEqual({ viewer: { kind: 'API_KEY' } });
  });

  it('counts refusals in keygate_rate_limited_total{limit="api_key"}', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^keygate_rate_limited_total\{limit="api_key"\} [1-9]\d*$/m);
  });
});

describe('per-key override and 0 = off', async () => {
  const limited = await serve({ perKey: 5, overrides: new Map(), failedAuthPerMinute: 0 });
  it('an override lifts the limit for one key only', async () => {
    const overrides = new Map<string, number>();
    const keygate = await createKeygate({
      config: await testKeygateConfig({
        databaseUrl: await freshDatabaseUrl(),
        rateLimit: { perKey: 5, overrides, failedAuthPerMinute: 0 },
      }),
    });
    const server = await startServer(keygate, { port: 0, host: '127.0.0.1' });
    try {
      const result = await bootstrapAccount(keygate.deps, { name: 'Override', plan: 'SCALE', ownerEmail: 'ov@x.test' });
      const fast = result.environments[0]!.fullAccess;
      const normal = result.environments[1]!.fullAccess;
      // The map is read on every request, as KEYGATE_RATE_LIMIT_OVERRIDES=<key id>=100 would configure it.
      overrides.set(fast.row.id, 100);
      expect((await burst(server.url, fast.secret, 30)).every((r) => r.status === 200)).toBe(true);
      const normalStatuses = (await burst(server.url, normal.secret, 11)).map((r) => r.status);
      expect(normalStatuses.filter((s) => s === 429)).toHaveLength(1);
    } finally {
      await server.stop();
    }
  });

  it('perKey 0 turns the per-key limit off', async () => {
    const off = await serve({ perKey: 0, overrides: new Map(), failedAuthPerMinute: 0 });
    const statuses = (await burst(off.server.url, off.keyA.secret, 60)).map((r) => r.status);
    expect(statuses).toEqual(Array(60).fill(200));
    // The same burst against a limited server is refused, so the burst is big enough to tell.
    const limitedStatuses = (await burst(limited.server.url, limited.keyA.secret, 60)).map((r) => r.status);
    expect(limitedStatuses.filter((s) => s === 429).length).toBeGreaterThan(0);
  });
});

describe('failed authentications per address (brute force)', async () => {
  // This server is reached over loopback, which is exempt unless limitLoopback is set.
  const { server, keyA } = await serve({ perKey: 0, overrides: new Map(), failedAuthPerMinute: 5, limitLoopback: true });
  const { server: exemptServer, keyA: exemptKey } = await serve({ perKey: 0, overrides: new Map(), failedAuthPerMinute: 5 });

  it('does not count loopback addresses by default: a proxy on the same host would make every client one address', async () => {
    for (let i = 0; i < 8; i++) expect((await viewer(exemptServer.url, { 'x-api-key': `server-bad-${i}` })).status).toBe(401);
    expect((await viewer(exemptServer.url, { 'x-api-key': exemptKey.secret })).status).toBe(200);
  });

  it('refuses the address with 429 after 5 bad keys, even with a valid key; metrics count both', async () => {
    for (let i = 0; i < 5; i++) {
      const bad = await viewer(server.url, { 'x-api-key': `server-bad-${i}` });
      expect(bad.status).toBe(401);
      expect(bad.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    }
    const refused = await viewer(server.url, { 'x-api-key': keyA.secret });
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(refused.body.data).toBeUndefined();

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^keygate_rate_limited_total\{limit="failed_auth_address"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^keygate_authentication_failures_total\{reason="invalid"\} 5$/m);
  });
});
