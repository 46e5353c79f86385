import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RevokeApiKeyDocument,
  RotateApiKeyDocument,
  UpdateApiKeyScopesDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { Notifications } from '../../src/database/notifications.js';
import { digestKey } from '../../src/modules/api-key/api-key.secret.js';
import { KeyCache } from '../../src/modules/auth/key-cache.js';
import type { Principal } from '../../src/modules/auth/principal.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

let t: TestKeygate;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
});

/** How many times the database was asked for the key with this secret during `work`. */
async function lookupsOf(secret: string, work: () => Promise<unknown>): Promise<number> {
  const digest = digestKey(secret);
  let lookups = 0;
  const stop = t.keygate.deps.database.observe((_sql, parameters) => {
    if (parameters.includes(digest)) lookups++;
  });
  try {
    await work();
  } finally {
    stop();
  }
  return lookups;
}

const viewer = (secret: string) => t.run(ViewerDocument, {}, { key: secret });

describe('key verification cache', () => {
  it('reads a known key from the database once per cache period, not per request', async () => {
    const key = await tenant.scopedKey(['coupons:read']);
    const lookups = await lookupsOf(key.secret, async () => {
      for (let i = 0; i < 25; i++) expect((await viewer(key.secret)).status).toBe(200);
    });
    expect(lookups).toBe(1);
  });

  it('still refuses a cached key the instant it expires (status follows the clock)', async () => {
    const other = await tenant.scopedKey(['coupons:read']);
    expect((await viewer(other.secret)).status).toBe(200);
    await t.run(RotateApiKeyDocument, { input: { id: other.row.id, expireOldKeyIn: 'ONE_HOUR' } }, { token: tenant.owner.token });
    expect((await viewer(other.secret)).status).toBe(200);
    t.clock.advance(60 * 60_000);
    try {
      expect((await viewer(other.secret)).status).toBe(401);
    } finally {
      t.clock.advance(-60 * 60_000);
    }
  });

  it('forgets a key on this instance as soon as it is revoked or re-scoped', async () => {
    const key = await tenant.scopedKey(['coupons:read']);
    expect((await viewer(key.secret)).body.data!.viewer.permissions).toEqual(['coupons:read']);
    await t.run(
      UpdateApiKeyScopesDocument,
      { input: { id: key.row.id, scopes: ['customers:read'] } },
      { token: tenant.owner.token },
    );
    expect((await viewer(key.secret)).body.data!.viewer.permissions).toEqual(['customers:read']);
    await t.run(RevokeApiKeyDocument, { input: { id: key.row.id } }, { token: tenant.owner.token });
    expect((await viewer(key.secret)).status).toBe(401);
  });
});

describe('KeyCache', () => {
  const principal = { kind: 'API_KEY', key: { id: 'key_1' } } as unknown as Principal;
  const logger = pino({ level: 'silent' });

  it('is bypassed on a shared database until change notifications are being received', () => {
    // A shared database whose notifications have not started yet.
    const cache = new KeyCache({ ttlMs: 10_000, maxEntries: 10, logger }, new Notifications(async () => ({}) as never, logger));
    cache.set('d', principal, cache.begin());
    expect(cache.get('d')).toBeUndefined();
  });

  it('does not keep a lookup that raced with an invalidation', () => {
    const cache = new KeyCache({ ttlMs: 10_000, maxEntries: 10, logger }, new Notifications(undefined, logger));
    const started = cache.begin();
    cache.invalidate('key_1');
    cache.set('d', principal, started);
    expect(cache.get('d')).toBeUndefined();
    cache.set('d', principal, cache.begin());
    expect(cache.get('d')).toBe(principal);
    cache.invalidate('key_1');
    expect(cache.get('d')).toBeUndefined();
  });
});
