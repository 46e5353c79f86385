import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import type { RateLimitConfig } from '../../src/plugins/rate-limit.js';
import { testKeygateConfig } from '../harness/keygate.js';
import { checkService } from '../harness/services.js';

/**
 * Rate limits shared by several instances through Redis (KEYGATE_REDIS_URL):
 * two Keygates on one database and one Redis (127.0.0.1:6379, a key prefix
 * of this run's own) draw from the same buckets; without Redis each falls
 * back to its own. SQLite only: the database plays no part here.
 */
const REDIS_URL = process.env.KEYGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `keygate-test-${randomBytes(4).toString('hex')}:`;
const dir = mkdtempSync(path.join(tmpdir(), 'keygate-shared-limits-'));
const limits: RateLimitConfig = { perKey: 1, overrides: new Map(), failedAuthPerMinute: 3 };

// Without Redis a developer's run skips the shared tests, saying so; CI's fails them (test/harness/services.ts).
const redis = await checkService('Redis', REDIS_URL, 6379, 'the shared rate-limit tests');

const instances: Keygate[] = [];
async function instance(redisUrl: string | null): Promise<Keygate> {
  const keygate = await createKeygate({
    config: await testKeygateConfig({
      databaseUrl: `file:${dir}/keygate.db`,
      rateLimit: limits,
      redisUrl,
      redisPrefix: prefix,
    }),
  });
  instances.push(keygate);
  return keygate;
}

afterAll(async () => {
  for (const keygate of instances) await keygate.close();
});

async function tenantSecrets(keygate: Keygate, name: string): Promise<string[]> {
  const tenant = await bootstrapAccount(keygate.deps, { name, plan: 'SCALE', ownerEmail: `${name.toLowerCase()}@keygate.test` });
  return tenant.environments.map((e) => e.fullAccess.secret);
}

async function viewer(keygate: Keygate, key: string) {
  const res = await keygate.yoga.fetch('http://keygate.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query: '{ viewer { kind } }' }),
  });
  const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), code: body.errors?.[0]?.extensions?.code };
}

describe.skipIf(redis.skip)('rate limits shared through Redis', () => {
  let a: Keygate;
  let b: Keygate;
  let secrets: string[];
  beforeAll(async () => {
    redis.assertUp();
    a = await instance(REDIS_URL);
    b = await instance(REDIS_URL);
    secrets = await tenantSecrets(a, 'Shared');
  });
  afterAll(async () => {
    if (!redis.up) return;
    const client = new Redis(REDIS_URL);
    const keys = await client.keys(`${prefix}*`);
    if (keys.length) await client.del(...keys);
    client.disconnect();
  });

  it('one bucket per key across instances: 1/s with bursts of 2 allows two requests in all, the third is 429 on either', async () => {
    const key = secrets[0]!;
    expect((await viewer(a, key)).status).toBe(200);
    expect((await viewer(b, key)).status).toBe(200);
    const third = await viewer(a, key);
    expect(third).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(third.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await viewer(b, key)).status).toBe(429);
  });

  it('failed authentications from one address count on every instance', async () => {
    for (const keygate of [a, b, a]) expect((await viewer(keygate, `server-${'x'.repeat(49)}`)).status).toBe(401);
    // The address is now refused everywhere, even with a valid key.
    expect(await viewer(b, secrets[1]!)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });
});

// Needs no Redis (it points at a port where none listens), so it runs with or without one.
describe('rate limits while Redis cannot be reached', () => {
  it('falls back to each instance’s own buckets while Redis cannot be reached, and keeps serving', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const alone = await instance(`redis://127.0.0.1:${port}`);
    const key = (await tenantSecrets(alone, 'Alone'))[0]!;
    expect((await viewer(alone, key)).status).toBe(200);
    expect((await viewer(alone, key)).status).toBe(200);
    expect(await viewer(alone, key)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
  });
});
