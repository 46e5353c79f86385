import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { UNAUTHENTICATED_MESSAGE } from '../../src/shared/errors.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate, testKeygateConfig } from '../harness/keygate.js';

/**
 * What every GraphQL response says about itself (SPEC §7): the media type the
 * client negotiated, refusals before execution included, and
 * `Cache-Control: no-store`.
 */
const t: TestKeygate = await startTestKeygate();
let tenant: Tenant;
let key = '';
beforeAll(async () => {
  tenant = await seedTenant(t);
  key = tenant.dev.fullAccessKey.secret;
});

const VIEWER = JSON.stringify({ query: '{ viewer { kind } }' });

/** A request to /graphql exactly as given: no Accept unless the test sends one. */
function send(keygate: Keygate, headers: Record<string, string>, init: { body?: string; method?: string; query?: string } = {}) {
  const method = init.method ?? 'POST';
  const search = init.query === undefined ? '' : `?query=${encodeURIComponent(init.query)}`;
  return Promise.resolve(
    keygate.yoga.fetch(`http://keygate.test/graphql${search}`, {
      method,
      headers: method === 'POST' ? { 'content-type': 'application/json', ...headers } : headers,
      body: method === 'POST' ? (init.body ?? VIEWER) : undefined,
    }),
  );
}

const GRAPHQL_RESPONSE = 'application/graphql-response+json; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** Accept headers clients send, with what GraphQL over HTTP (and Yoga) answer in. */
const ACCEPTS: [string | undefined, string][] = [
  [undefined, JSON_TYPE],
  ['*/*', JSON_TYPE],
  ['application/json', JSON_TYPE],
  ['application/graphql-response+json', GRAPHQL_RESPONSE],
  // Apollo Client 4 and graphql-http's client.
  ['application/graphql-response+json,application/json;q=0.9', GRAPHQL_RESPONSE],
  ['application/json, application/graphql-response+json', JSON_TYPE],
  ['application/*', JSON_TYPE],
  ['text/html;q=0.5, application/graphql-response+json', GRAPHQL_RESPONSE],
];

/** Keygates whose refusals need a setting of their own, closed after the file. */
const extra: Keygate[] = [];
afterAll(() => Promise.all(extra.map((k) => k.close())));
async function keygateWith(config: Parameters<typeof testKeygateConfig>[0]): Promise<Keygate> {
  const keygate = await createKeygate({ config: await testKeygateConfig(config) });
  extra.push(keygate);
  return keygate;
}

describe('media type of refusals before execution', () => {
  it('a 401 answers in the media type Yoga picks for the same Accept header, with the same body', async () => {
    for (const [accept, expected] of ACCEPTS) {
      const headers: Record<string, string> = accept === undefined ? {} : { accept };
      // What Yoga itself answers for this Accept: an authenticated request whose document fails validation.
      const yoga = await send(t.keygate, { ...headers, 'x-api-key': key }, { body: JSON.stringify({ query: '{ nope }' }) });
      expect(yoga.headers.get('content-type'), String(accept)).toBe(expected);
      const refused = await send(t.keygate, headers);
      expect(refused.status, String(accept)).toBe(401);
      expect(refused.headers.get('content-type'), String(accept)).toBe(expected);
      expect(await refused.json()).toEqual({
        errors: [{ message: UNAUTHENTICATED_MESSAGE, extensions: { code: 'UNAUTHENTICATED' } }],
      });
    }
  });

  it('413, 415 and 429 (failed authentications, key rate) answer application/graphql-response+json when asked', async () => {
    const accept = 'application/graphql-response+json, application/json;q=0.9';
    const cases: { name: string; status: number; code: string; response: () => Promise<Response> }[] = [];
    cases.push({
      name: 'body over the limit',
      status: 413,
      code: 'BAD_USER_INPUT',
      response: () => send(t.keygate, { accept, 'x-api-key': key }, { body: VIEWER.padEnd(200_000) }),
    });
    cases.push({
      name: 'wrong content type',
      status: 415,
      code: 'BAD_USER_INPUT',
      response: () => send(t.keygate, { accept, 'x-api-key': key, 'content-type': 'text/plain' }),
    });
    const lockout = await keygateWith({ rateLimit: { perKey: 0, overrides: new Map(), failedAuthPerMinute: 1 } });
    cases.push({
      name: 'address locked out',
      status: 429,
      code: 'RATE_LIMITED',
      response: async () => {
        expect((await send(lockout, { accept, 'x-api-key': 'server-wrong' })).status).toBe(401);
        return send(lockout, { accept, 'x-api-key': 'server-wrong' });
      },
    });
    const perKey = await keygateWith({ rateLimit: { perKey: 1, overrides: new Map(), failedAuthPerMinute: 0 } });
    const { bootstrapAccount } = await import('../../src/modules/account/account.service.js');
    const limited = await bootstrapAccount(perKey.deps, { name: 'Limited', plan: 'FREE', ownerEmail: 'limited@x.test' });
    const limitedKey = limited.environments[0]!.fullAccess.secret;
    cases.push({
      name: 'key over its rate',
      status: 429,
      code: 'RATE_LIMITED',
      response: async () => {
        // One request a second, in bursts of two.
        for (let i = 0; i < 2; i++) expect((await send(perKey, { accept, 'x-api-key': limitedKey })).status).toBe(200);
        return send(perKey, { accept, 'x-api-key': limitedKey });
      },
    });
    for (const { name, status, code, response } of cases) {
      const res = await response();
      expect(res.status, name).toBe(status);
      expect(res.headers.get('content-type'), name).toBe(GRAPHQL_RESPONSE);
      const body = await res.json();
      expect(codes(body), name).toEqual([code]);
      expect(Object.keys(body), name).toEqual(['errors']);
      if (status === 429) expect(Number(res.headers.get('retry-after')), name).toBeGreaterThan(0);
    }
  });

  it('a 503 (identity provider unreachable while authenticating) answers application/graphql-response+json when asked', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    // A port nothing listens on: the provider's key set cannot be fetched.
    const unreachable = await keygateWith({
      identityProvider: { jwksUrl: 'http://127.0.0.1:9/jwks', issuer: null, audience: null, userClaim: 'sub' },
    });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('usr_x')
      .setExpirationTime('1h')
      .sign(privateKey);
    const res = await send(unreachable, { accept: 'application/graphql-response+json', authorization: `Bearer ${token}` });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('content-type')).toBe(GRAPHQL_RESPONSE);
    expect(codes(await res.json())).toEqual(['INTERNAL']);
  });
});

describe('Cache-Control: no-store', () => {
  it('is on every GraphQL response: answers, errors, and refusals before execution', async () => {
    const lockout = await keygateWith({ rateLimit: { perKey: 0, overrides: new Map(), failedAuthPerMinute: 1 } });
    await send(lockout, { 'x-api-key': 'server-wrong' });
    const responses: [string, Promise<Response>][] = [
      ['answer', send(t.keygate, { 'x-api-key': key })],
      ['GET query', send(t.keygate, { 'x-api-key': key }, { method: 'GET', query: '{ viewer { kind } }' })],
      ['field error', t.fetch({ query: '{ apiKey(id: "key_00000000000000000000000000") { name } }' }, { 'x-api-key': key })],
      ['validation error', send(t.keygate, { 'x-api-key': key }, { body: JSON.stringify({ query: '{ nope }' }) })],
      ['malformed JSON', send(t.keygate, { 'x-api-key': key }, { body: '{"query":' })],
      [
        'mutation over GET',
        send(
          t.keygate,
          { 'x-api-key': key },
          { method: 'GET', query: 'mutation { rotateSigningSecret(input: {}) { environment { id } } }' },
        ),
      ],
      ['401', send(t.keygate, {})],
      ['413', send(t.keygate, { 'x-api-key': key }, { body: VIEWER.padEnd(200_000) })],
      ['415', send(t.keygate, { 'x-api-key': key, 'content-type': 'text/plain' })],
      ['429', send(lockout, { 'x-api-key': 'server-wrong' })],
      ['406', send(t.keygate, { 'x-api-key': key, accept: 'image/png' })],
    ];
    const statuses = new Set<number>();
    for (const [name, pending] of responses) {
      const res = await pending;
      statuses.add(res.status);
      expect(res.headers.get('cache-control'), `${name} (${res.status})`).toBe('no-store');
    }
    expect([...statuses].sort()).toEqual([200, 400, 401, 405, 406, 413, 415, 429]);
  });
});

describe('field suggestions', () => {
  const typos = {
    field: '{ viewr { kind } }',
    enumLiteral: '{ apiKeys(filter: { statuses: [ACTIV] }) { totalCount } }',
    inputField: '{ apiKeys(filter: { statuse: [ACTIVE] }) { totalCount } }',
  };
  const variables = {
    query: 'query ($f: ApiKeyFilter) { apiKeys(filter: $f) { totalCount } }',
    enumValue: { f: { statuses: ['ACTIV'] } },
    inputField: { f: { statuse: ['ACTIVE'] } },
  };

  async function messagesFor(credential: { key: string } | { token: string }): Promise<string[]> {
    const messages: string[] = [];
    for (const source of Object.values(typos)) {
      const { body } = await t.query(source, {}, credential);
      expect(codes(body), source).toEqual(['BAD_USER_INPUT']);
      messages.push(body.errors![0]!.message);
    }
    for (const value of [variables.enumValue, variables.inputField]) {
      const { body } = await t.query(variables.query, value, credential);
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
      messages.push(body.errors![0]!.message);
    }
    return messages;
  }

  it('are left out for the publishable key, in validation and in variable errors alike', async () => {
    const messages = await messagesFor({ key: tenant.dev.publishableKey.secret });
    for (const message of messages) expect(message).not.toMatch(/did you mean|suggestion/i);
    expect(messages[0]).toBe('Cannot query field "viewr" on type "Query".');
  });

  it('are kept for server keys and users, who may read the schema anyway', async () => {
    for (const credential of [{ key }, { token: tenant.owner.token }]) {
      const messages = await messagesFor(credential);
      expect(messages[0]).toBe('Cannot query field "viewr" on type "Query". Did you mean "viewer"?');
      for (const message of messages) expect(message).toMatch(/Did you mean/);
    }
  });
});
