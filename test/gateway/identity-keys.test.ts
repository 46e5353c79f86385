import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { parseIdentityKey } from '../../src/modules/gateway/identity.js';
import { ManualClock } from '../../src/shared/clock.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { testKeygateConfig } from '../harness/keygate.js';
import { startYogaUpstream, upstreamsFile } from '../harness/upstreams.js';

const SDL = 'type Query { ping: Int }';
const pem = (type: 'ed25519' | 'ec') =>
  (type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

const jwksOf = async (keygate: Keygate) =>
  (
    (await (await keygate.yoga.fetch('http://keygate.test/.well-known/jwks.json')).json()) as {
      keys: { kid: string; alg: string }[];
    }
  ).keys;

describe('identity keys', () => {
  it('accept Ed25519 (EdDSA) and P-256 (ES256) PKCS#8 keys, and refuse anything else', () => {
    expect(() => parseIdentityKey(pem('ed25519'))).not.toThrow();
    expect(() => parseIdentityKey(pem('ec'))).not.toThrow();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => parseIdentityKey(rsa)).toThrow(/Ed25519 or P-256/);
    expect(() => parseIdentityKey('not a key')).toThrow(/PKCS#8/);
  });

  for (const type of ['ed25519', 'ec'] as const) {
    it(`sign with ${type === 'ec' ? 'ES256' : 'EdDSA'} tokens that jose verifies with the served JWKS, claims and expiry as SPEC §9 says`, async () => {
      const upstream = await startYogaUpstream('ping', SDL, { Query: { ping: () => 1 } });
      const clock = new ManualClock('2026-06-01T12:00:00.000Z');
      const keygate = await createKeygate({
        config: await testKeygateConfig({
          upstreamsFile: upstreamsFile([upstream], { ping: { reloadSeconds: 0 } }),
          identityKeyPem: pem(type),
          dataDir: tmpdir(),
        }),
        clock,
      });
      try {
        const identity = keygate.deps.gateway.identity!;
        const claims = {
          sub: 'key_1',
          jti: 'req_1',
          kg_principal: 'api_key' as const,
          kg_account: 'acc_1',
          kg_environment: 'env_1',
          kg_key_type: 'SCOPED',
          kg_scopes: ['orders:read', 'é ünïcode:read'],
        };
        const token = await identity.sign('ping', claims);
        const jwks = createLocalJWKSet({ keys: await jwksOf(keygate) } as never);
        const header = decodeProtectedHeader(token);
        expect(header).toEqual({ alg: type === 'ec' ? 'ES256' : 'EdDSA', kid: identity.kid, typ: 'JWT' });
        const { payload } = await jwtVerify(token, jwks, {
          issuer: 'keygate',
          audience: 'ping',
          algorithms: [header.alg!],
          currentDate: clock.now(),
        });
        expect(payload).toEqual({ ...claims, iss: 'keygate', aud: 'ping', iat: 1780315200, exp: 1780315260 });
        // Another audience, a changed payload and an expired token are refused.
        await expect(jwtVerify(token, jwks, { audience: 'orders', currentDate: clock.now() })).rejects.toThrow();
        const [h, , sig] = token.split('.');
        const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, kg_scopes: ['*'] })).toString('base64url')}.${sig}`;
        await expect(jwtVerify(forged, jwks, { currentDate: clock.now() })).rejects.toThrow(/signature/);
        await expect(jwtVerify(token, jwks, { currentDate: new Date(clock.now().getTime() + 61_000) })).rejects.toThrow(/exp/);
      } finally {
        await keygate.close();
      }
    });
  }

  it('keep a replaced key in the JWKS until every token it signed has expired, then drop it', async () => {
    const upstream = await startYogaUpstream('ping', SDL, { Query: { ping: () => 1 } });
    const clock = new ManualClock('2026-06-01T12:00:00.000Z');
    const databaseUrl = await freshDatabaseUrl({ fileDir: mkdtempSync(path.join(tmpdir(), 'keygate-idkeys-')) });
    const file = upstreamsFile([upstream], { ping: { reloadSeconds: 0 } });
    const start = async (identityKeyPem: string) =>
      createKeygate({
        config: await testKeygateConfig({ databaseUrl, upstreamsFile: file, identityKeyPem, dataDir: tmpdir() }),
        clock,
      });

    const before = await start(pem('ed25519'));
    const [oldKey] = await jwksOf(before);
    expect(oldKey!.alg).toBe('EdDSA');
    await before.close();

    // The operator replaces KEYGATE_IDENTITY_KEY (here with an ES256 key) and restarts.
    const after = await start(pem('ec'));
    try {
      const overlap = await jwksOf(after);
      expect(overlap.map((k) => k.alg)).toEqual(['ES256', 'EdDSA']);
      expect(overlap[1]!.kid).toBe(oldKey!.kid);
      // Tokens live 60 s; the old key was last renewed now. Well past that (and the renewal slack), it is gone.
      clock.advance(181_000);
      const later = await jwksOf(after);
      expect(later.map((k) => k.kid)).not.toContain(oldKey!.kid);
      expect(later.map((k) => k.alg)).toEqual(['ES256']);
    } finally {
      await after.close();
    }
  });

  it('are required in production when upstreams are configured', async () => {
    const upstream = await startYogaUpstream('ping', SDL, { Query: { ping: () => 1 } });
    const config = await testKeygateConfig({
      upstreamsFile: upstreamsFile([upstream]),
      production: true,
      identityKeyPem: null,
      dataDir: mkdtempSync(path.join(tmpdir(), 'keygate-prod-')),
    });
    await expect(createKeygate({ config })).rejects.toThrow(/KEYGATE_IDENTITY_KEY is required/);
  });
});
