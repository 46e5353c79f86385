import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import type { IdentityProviderConfig } from '../../src/modules/auth/session.js';
import { codes, testKeygateConfig } from '../harness/keygate.js';

/**
 * Sessions from an identity provider (SPEC §2: "a deployment may point
 * Keygate at an identity provider's JWKS"): tokens signed by a key in the
 * provider's JWKS, served here on 127.0.0.1, authenticate the user they name;
 * everything else is 401, and an unreachable provider is 503.
 */
const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'keygate';

let jwks: { keys: JWK[] } = { keys: [] };
let jwksServer: Server;
let jwksUrl = '';
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let ec: Awaited<ReturnType<typeof generateKeyPair>>;
let stranger: Awaited<ReturnType<typeof generateKeyPair>>;
let keygate: Keygate;
let byEmail: Keygate;
let owner: { id: string; email: string };

async function start(provider: Partial<IdentityProviderConfig> = {}): Promise<Keygate> {
  return createKeygate({
    config: await testKeygateConfig({
      identityProvider: { jwksUrl, issuer: ISSUER, audience: AUDIENCE, userClaim: 'sub', ...provider },
    }),
  });
}

beforeAll(async () => {
  [rsa, ec, stranger] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('ES256'), generateKeyPair('RS256')]);
  jwks = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ],
  };
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  keygate = await start();
  const tenant = await bootstrapAccount(keygate.deps, { name: 'IdP', plan: 'SCALE', ownerEmail: 'idp-owner@keygate.test' });
  owner = { id: tenant.owner.id, email: tenant.owner.email };
});
afterAll(async () => {
  await Promise.all([keygate?.close(), byEmail?.close()]);
  jwksServer?.close();
});

type Claims = { sub?: string; email?: string; iss?: string; aud?: string; exp?: number | null };

function token(
  key: CryptoKey,
  alg: string,
  kid: string,
  { exp = Math.floor(Date.now() / 1000) + 600, ...claims }: Claims = {},
): Promise<string> {
  const jwt = new SignJWT({ ...(claims.email ? { email: claims.email } : {}) })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuedAt()
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(key);
}

async function viewer(k: Keygate, bearer: string) {
  const res = await k.yoga.fetch('http://keygate.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query: '{ viewer { kind user { id email } } }' }),
  });
  return { status: res.status, body: (await res.json()) as any };
}

describe('identity provider sessions (JWKS)', () => {
  it('authenticate the user named by sub, for RS256 and ES256 keys of the JWKS', async () => {
    for (const bearer of [
      await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: owner.id }),
      await token(ec.privateKey, 'ES256', 'ec-1', { sub: owner.id }),
    ]) {
      const { status, body } = await viewer(keygate, bearer);
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.data.viewer).toEqual({ kind: 'USER', user: { id: owner.id, email: owner.email } });
    }
  });

  it('keep accepting Keygate’s own session tokens (keygate token)', async () => {
    const { status, body } = await viewer(keygate, await keygate.deps.sessions.mint(owner.id, 600));
    expect(status).toBe(200);
    expect(body.data.viewer.user.id).toBe(owner.id);
  });

  it('refuse with 401 UNAUTHENTICATED: a key outside the JWKS, wrong issuer or audience, expired, no exp, unknown user', async () => {
    const now = Math.floor(Date.now() / 1000);
    const refused = {
      'a key outside the JWKS': await token(stranger.privateKey, 'RS256', 'rsa-1', { sub: owner.id }),
      'another issuer': await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: owner.id, iss: 'https://evil.test/' }),
      'another audience': await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: owner.id, aud: 'someone-else' }),
      expired: await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: owner.id, exp: now - 60 }),
      'no exp': await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: owner.id, exp: null }),
      'no sub': await token(rsa.privateKey, 'RS256', 'rsa-1', {}),
      'an unknown user': await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: 'usr_00000000000000000000000000' }),
    };
    for (const [why, bearer] of Object.entries(refused)) {
      const { status, body } = await viewer(keygate, bearer);
      expect(status, why).toBe(401);
      expect(codes(body), why).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('refuse algorithm confusion: HS256 signed with the provider’s public key, and alg none', async () => {
    const publicJwk = JSON.stringify(jwks.keys[0]);
    const confused = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setSubject(owner.id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(publicJwk));
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ sub: owner.id, iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString('base64url');
    for (const bearer of [confused, `${header}.${payload}.`]) {
      const { status } = await viewer(keygate, bearer);
      expect(status).toBe(401);
    }
  });

  it('with KEYGATE_SESSION_USER_CLAIM=email, name the user by email (any case)', async () => {
    byEmail = await start({ userClaim: 'email' });
    await bootstrapAccount(byEmail.deps, { name: 'IdP mail', plan: 'FREE', ownerEmail: 'mail-owner@keygate.test' });
    const ok = await viewer(
      byEmail,
      await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: 'idp|123', email: 'Mail-Owner@Keygate.test' }),
    );
    expect(ok.status).toBe(200);
    expect(ok.body.data.viewer.user.email).toBe('mail-owner@keygate.test');
    const unknown = await viewer(
      byEmail,
      await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: 'x', email: 'nobody@keygate.test' }),
    );
    expect(unknown.status).toBe(401);
  });

  it('answer 503 with Retry-After (coded INTERNAL), not 401, while the provider’s keys cannot be fetched', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await createKeygate({
      config: await testKeygateConfig({
        identityProvider: { jwksUrl: `http://127.0.0.1:${port}/jwks`, issuer: null, audience: null, userClaim: 'sub' },
      }),
    });
    try {
      const res = await unreachable.yoga.fetch('http://keygate.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await token(rsa.privateKey, 'RS256', 'rsa-1', { sub: owner.id })}`,
        },
        body: JSON.stringify({ query: '{ viewer { kind } }' }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(codes((await res.json()) as any)).toEqual(['INTERNAL']);
    } finally {
      await unreachable.close();
    }
  });
});
