import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RevokeApiKeyDocument,
  RotateApiKeyDocument,
  UpdateApiKeyScopesDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { type ChannelSubscriber, Notifications } from '../../src/database/notifications.js';
import { digestKey } from '../../src/modules/api-key/api-key.secret.js';
import { estimateEntryBytes, estimateScopeBytes, KeyCache } from '../../src/modules/auth/key-cache.js';
import type { ApiKeyPrincipal } from '../../src/modules/auth/principal.js';
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

describe('key verification cache with more keys in use than it holds', () => {
  // Room for about 65 keys (see estimateEntryBytes), with 200 in use.
  const budgetMb = 0.05;
  let small: TestKeygate;
  let keys: Awaited<ReturnType<Tenant['scopedKey']>>[];
  beforeAll(async () => {
    small = await startTestKeygate({ keyCacheMb: budgetMb });
    const smallTenant = await seedTenant(small);
    keys = [];
    for (let i = 0; i < 200; i++) keys.push(await smallTenant.scopedKey(['coupons:read']));
  });

  it('keeps to its memory budget, answers every key, and reads from the database only the keys it let go', async () => {
    for (const key of keys) expect((await small.run(ViewerDocument, {}, { key: key.secret })).status).toBe(200);
    const cache = small.keygate.deps.keyCache;
    expect(cache.bytes).toBeLessThanOrEqual(budgetMb * 1024 * 1024);
    expect(cache.size).toBeGreaterThan(20);
    expect(cache.size).toBeLessThan(keys.length);
    expect(cache.indexed).toBe(cache.size);

    const lookups = async (secret: string) => {
      const digest = digestKey(secret);
      let n = 0;
      const stop = small.keygate.deps.database.observe((_sql, parameters) => {
        if (parameters.includes(digest)) n++;
      });
      try {
        expect((await small.run(ViewerDocument, {}, { key: secret })).status).toBe(200);
      } finally {
        stop();
      }
      return n;
    };
    // The most recently used key is still held; the first was pushed out by the 199 after it.
    expect(await lookups(keys.at(-1)!.secret)).toBe(0);
    expect(await lookups(keys[0]!.secret)).toBe(1);
  });
});

describe('what the cache holds of a key', () => {
  it('keeps no ciphertext, and one copy of a scope for every key that holds it', async () => {
    const [a, b] = [await tenant.scopedKey(['customers:read']), await tenant.scopedKey(['customers:read'])];
    const other = await tenant.scopedKey(['coupons:read']);
    for (const key of [a, b, other]) expect((await viewer(key.secret)).status).toBe(200);
    const cached = (secret: string) => t.keygate.deps.keyCache.get(digestKey(secret))!;
    expect(cached(a.secret).key.id).toBe(a.row.id);
    expect(cached(a.secret).key).not.toHaveProperty('secretEncrypted');
    expect(cached(a.secret).grants).toBe(cached(b.secret).grants);
    expect(cached(a.secret).key.scopes).toBe(cached(b.secret).key.scopes);
    expect(cached(other.secret).grants).not.toBe(cached(a.secret).grants);
    expect([...cached(other.secret).grants]).toContain('coupons:read');
  });
});

describe('KeyCache', () => {
  const logger = pino({ level: 'silent' });
  // One scope shared by every key, as principalForKey shares it.
  const sharedScope = { scopes: ['coupons:read'], grants: new Set(['coupons:read', 'environment:read']) };
  const principalOf = (id: string, scope = sharedScope) =>
    ({
      kind: 'API_KEY',
      key: { id, name: 'k', description: null, scopes: scope.scopes },
      grants: scope.grants,
    }) as unknown as ApiKeyPrincipal;
  const principal = principalOf('key_1');
  const local = () => new Notifications(undefined, logger);

  it('is bypassed on a shared database until change notifications are being received', () => {
    // A shared database whose notifications have not started yet.
    const cache = new KeyCache({ ttlMs: 10_000, maxBytes: 1e6, logger }, new Notifications(async () => ({}) as never, logger));
    cache.set('d', principal, cache.begin());
    expect(cache.get('d')).toBeUndefined();
  });

  it('does not keep a lookup that raced with an invalidation', () => {
    const cache = new KeyCache({ ttlMs: 10_000, maxBytes: 1e6, logger }, local());
    const started = cache.begin();
    cache.invalidate('key_1');
    cache.set('d', principal, started);
    expect(cache.get('d')).toBeUndefined();
    cache.set('d', principal, cache.begin());
    expect(cache.get('d')).toBe(principal);
    cache.invalidate('key_1');
    expect(cache.get('d')).toBeUndefined();
  });

  it('forgets one key without looking at any other cached key (constant time, however many are cached)', () => {
    const cache = new KeyCache({ ttlMs: 10_000, maxBytes: 1e9, logger }, local());
    // Keys that count every read of their id: a walk over the cache would read each of them.
    const idsRead = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const p = principalOf(`key_${i}`);
      const id = p.key.id;
      Object.defineProperty(p.key, 'id', {
        get: () => {
          idsRead.add(id);
          return id;
        },
      });
      cache.set(`digest_${i}`, p, cache.begin());
    }
    expect(cache.size).toBe(5000);
    idsRead.clear();
    cache.invalidate('key_1234');
    // Only the forgotten key's own entry is read (to leave the index).
    expect([...idsRead]).toEqual(['key_1234']);
    expect(cache.get('digest_1234')).toBeUndefined();
    expect(cache.size).toBe(4999);
    expect(cache.get('digest_1233')?.key.id).toBe('key_1233');
    expect(cache.get('digest_1235')?.key.id).toBe('key_1235');
    // A key that is not cached costs nothing at all.
    idsRead.clear();
    cache.invalidate('key_unknown');
    expect(idsRead.size).toBe(0);
  });

  it('stays within its byte budget with ten times the keys it holds, and its id index shrinks with it', () => {
    const maxBytes = 100 * estimateEntryBytes(principalOf('key_0')) + estimateScopeBytes(principalOf('key_0'));
    const cache = new KeyCache({ ttlMs: 10_000, maxBytes, logger }, local());
    for (let i = 0; i < 1000; i++) cache.set(`digest_${i}`, principalOf(`key_${i}`), cache.begin());
    expect(cache.bytes).toBeLessThanOrEqual(maxBytes);
    expect(cache.size).toBe(100);
    expect(cache.indexed).toBe(100);
    expect(cache.distinctScopes).toBe(1);
    expect(cache.get('digest_999')).toBeDefined();
    expect(cache.get('digest_0')).toBeUndefined();
    // Forgetting a key that was pushed out removes nothing else.
    cache.invalidate('key_0');
    expect(cache.size).toBe(100);
  });

  it('counts long names against the budget, and each distinct scope once while a key holds it: fewer such keys fit', () => {
    const maxBytes = 100 * estimateEntryBytes(principalOf('key_0')) + estimateScopeBytes(principalOf('key_0'));
    const longNames = new KeyCache({ ttlMs: 10_000, maxBytes, logger }, local());
    for (let i = 0; i < 1000; i++) {
      const p = principalOf(`key_${i}`);
      longNames.set(
        `digest_${i}`,
        { ...p, key: { ...p.key, name: 'n'.repeat(200), description: 'd'.repeat(1000) } },
        longNames.begin(),
      );
    }
    expect(longNames.bytes).toBeLessThanOrEqual(maxBytes);
    expect(longNames.size).toBeLessThan(30);

    // A scope of its own for every key: each counts, so fewer keys fit than when they share one.
    const ownScopes = new KeyCache({ ttlMs: 10_000, maxBytes, logger }, local());
    for (let i = 0; i < 1000; i++) {
      const own = { scopes: ['coupons:read', `x:${i}`], grants: new Set(['coupons:read', `x:${i}`]) };
      ownScopes.set(`digest_${i}`, principalOf(`key_${i}`, own), ownScopes.begin());
    }
    expect(ownScopes.bytes).toBeLessThanOrEqual(maxBytes);
    expect(ownScopes.size).toBeLessThan(80);
    expect(ownScopes.distinctScopes).toBe(ownScopes.size);
    // A scope leaves the tally with the last key that holds it.
    ownScopes.clear();
    expect(ownScopes.bytes).toBe(0);
    expect(ownScopes.distinctScopes).toBe(0);
  });

  it('holds nothing with a zero budget or lifetime', () => {
    for (const options of [
      { ttlMs: 10_000, maxBytes: 0 },
      { ttlMs: 0, maxBytes: 1e6 },
    ]) {
      const cache = new KeyCache({ ...options, logger }, local());
      cache.set('d', principal, cache.begin());
      expect(cache.get('d')).toBeUndefined();
    }
  });

  it('starts empty when lost notifications are restored, and holds keys again from then on', () => {
    let subscriber: ChannelSubscriber | undefined;
    const shared = new Notifications(async () => ({}) as never, logger);
    shared.subscribe = (_channel, s) => {
      subscriber = s;
    };
    const cache = new KeyCache({ ttlMs: 10_000, maxBytes: 1e6, logger }, shared);
    subscriber!.restored();
    cache.set('d', principal, cache.begin());
    expect(cache.get('d')).toBe(principal);
    subscriber!.lost();
    expect(cache.get('d')).toBeUndefined();
    // Nothing is kept while nothing is heard…
    cache.set('d', principal, cache.begin());
    subscriber!.restored();
    // …and nothing from before is trusted after.
    expect(cache.get('d')).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set('d', principal, cache.begin());
    expect(cache.get('d')).toBe(principal);
  });
});
