import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { freshDatabaseUrl } from '../harness/database.js';

/**
 * Hostile input against a real HTTP server on 127.0.0.1: every case gets a
 * coded error (SPEC §7 closed set) with the right HTTP status, and a normal
 * query works afterwards. Memory under a hostile burst is the benchmark's to
 * measure (`npm run bench`, bench/hostile.ts): a test worker's RSS is that of
 * every file it has run, not of the server.
 */
const CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'PLAN_UPGRADE_REQUIRED',
  'IMMUTABLE_KEY',
  'CONFLICT',
  'INVALID_CUSTOMER_TOKEN',
  'RATE_LIMITED',
  'INTERNAL',
]);

const sessionSecret = randomBytes(32);
let keygate: Keygate;
let server: RunningServer;
let key = '';
let publishable = '';
let ownerId = '';
let accountId = '';

beforeAll(async () => {
  keygate = await createKeygate({
    config: {
      databaseUrl: await freshDatabaseUrl(),
      databasePoolSize: 2,
      masterKey: randomBytes(32),
      sessionSecret,
      logLevel: 'silent',
      rateLimit: { perKey: 0, overrides: new Map(), failedAuthPerMinute: 0 },
    },
  });
  server = await startServer(keygate, { port: 0, host: '127.0.0.1' });
  const result = await bootstrapAccount(keygate.deps, { name: 'Hostile', plan: 'SCALE', ownerEmail: 'h@x.test' });
  key = result.environments[0]!.fullAccess.secret;
  publishable = result.environments[0]!.publishable.secret;
  ownerId = result.owner.id;
  accountId = result.account.id;
});
afterAll(() => server?.stop());

interface Reply {
  status: number;
  text: string;
  body: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } | null;
}

/** A raw HTTP POST (Buffer bodies allowed, so invalid UTF-8 goes on the wire as is). */
function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const url = new URL(`${server.url}/graphql`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: url.port,
        path: '/graphql',
        method: 'POST',
        headers: Object.fromEntries(
          Object.entries({
            'content-type': 'application/json',
            accept: 'application/json',
            'x-api-key': key,
            'content-length': String(payload.length),
            ...headers,
          }).filter(([, v]) => v !== ''),
        ),
        timeout: 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Reply['body'] = null;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, text, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    // The server may answer (413) and close before the whole body is written.
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(err)));
    req.end(payload);
  });
}

const json = (query: string, variables?: Record<string, unknown>) => JSON.stringify({ query, variables });

function expectCoded(reply: Reply, status: number, code: string) {
  const detail = `${reply.status} ${reply.text.slice(0, 300)}`;
  expect(reply.status, detail).toBe(status);
  expect(reply.body, detail).not.toBeNull();
  const codes = (reply.body!.errors ?? []).map((e) => e.extensions?.code);
  expect(codes.length, detail).toBeGreaterThan(0);
  expect(
    codes.every((c) => c !== undefined && CODES.has(c)),
    detail,
  ).toBe(true);
  expect(codes, detail).toContain(code);
  expect(reply.text).not.toMatch(/\bat .+:\d+:\d+\)|SqliteError|pg_|stack/);
}

async function stillServes() {
  const reply = await post(json('{ viewer { kind } }'));
  expect(reply.status).toBe(200);
  expect(reply.body?.data).toEqual({ viewer: { kind: 'API_KEY' } });
}

const withKey = (k: string) => ({ 'x-api-key': k });

describe('hostile input', () => {
  it('malformed JSON → 400 BAD_USER_INPUT', async () => {
    for (const body of ['{"query": ', '{query: "{ viewer { kind } }"}', 'null', '[]', '"x"']) {
      const reply = await post(body);
      expect(reply.status, body).toBe(400);
      expectCoded(reply, 400, 'BAD_USER_INPUT');
    }
    await stillServes();
  });

  it('wrong content types (text/plain, application/xml) → 415 with a coded error', async () => {
    for (const type of ['text/plain', 'application/xml']) {
      const reply = await post(type === 'text/plain' ? json('{ viewer { kind } }') : '<query/>', { 'content-type': type });
      expectCoded(reply, 415, 'BAD_USER_INPUT');
    }
    await stillServes();
  });

  it('a 10 MB body → 413 BAD_USER_INPUT', async () => {
    const reply = await post(json('{ viewer { kind } }', { pad: 'x'.repeat(10 * 1024 * 1024) }));
    expectCoded(reply, 413, 'BAD_USER_INPUT');
    await stillServes();
  });

  it('a chunked body (no Content-Length) over 100 KiB → 413 BAD_USER_INPUT; a small chunked body works', async () => {
    const chunked = { 'content-length': '', 'transfer-encoding': 'chunked' };
    const big = await post(json('{ viewer { kind } }', { pad: 'x'.repeat(200 * 1024) }), chunked);
    expectCoded(big, 413, 'BAD_USER_INPUT');
    expect(big.body!.errors![0]!.message).toMatch(/102400/);
    const small = await post(json('{ viewer { kind } }'), chunked);
    expect(small.status, small.text).toBe(200);
    expect(small.body?.data).toEqual({ viewer: { kind: 'API_KEY' } });
    await stillServes();
  });

  it('10,000 aliases (a body over 100 KiB) → 413 BAD_USER_INPUT', async () => {
    const query = `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: viewer { kind }`).join(' ')} }`;
    expect(Buffer.byteLength(query)).toBeGreaterThan(102_400);
    expectCoded(await post(json(query)), 413, 'BAD_USER_INPUT');
    await stillServes();
  });

  it('10,000 short aliases within the body limit → coded BAD_USER_INPUT', async () => {
    const query = `{${Array.from({ length: 10_000 }, (_, i) => `a${i}:__typename`).join(' ')}}`;
    expect(Buffer.byteLength(query)).toBeLessThan(200_000);
    const reply = await post(json(query.slice(0, 100_000).replace(/\s\S*$/, '}')));
    expectCoded(reply, 200, 'BAD_USER_INPUT');
    await stillServes();
  });

  it('500-deep nesting → coded BAD_USER_INPUT', async () => {
    const query = `{ ${'environments { account { '.repeat(250)}id${' } }'.repeat(250)} }`;
    expectCoded(await post(json(query)), 200, 'BAD_USER_INPUT');
    await stillServes();
  });

  it('literal lists nested 1,000 to 3,000 deep (parser stack) → coded BAD_USER_INPUT, never INTERNAL', async () => {
    for (const depth of [1000, 2000, 2500, 3000]) {
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const reply = await post(
        json(`mutation { updateCustomer(input: { customerId: "c", metadata: ${deep} }) { customer { id } } }`),
      );
      expectCoded(reply, reply.status, 'BAD_USER_INPUT');
      expect(reply.status, String(depth)).toBeLessThan(500);
    }
    await stillServes();
  });

  it('JSON metadata nested 8,000 deep in a variable → BAD_USER_INPUT naming metadata and the depth limit', async () => {
    // Written by hand: JSON.stringify itself cannot go this deep.
    const query = JSON.stringify(
      'mutation($m: JSON) { createCustomer(input: { customerId: "deep-json", metadata: $m }) { customer { id } } }',
    );
    const reply = await post(`{"query":${query},"variables":{"m":${'['.repeat(8000)}${']'.repeat(8000)}}}`);
    expectCoded(reply, 200, 'BAD_USER_INPUT');
    expect(reply.body!.errors![0]!.message).toMatch(/^metadata: .*32 levels/);
    await stillServes();
  });

  it('a 1 MB string variable → 413; a 90 KB one → a coded error, not INTERNAL', async () => {
    const q = 'query($id: String!) { customer(customerId: $id) { id } }';
    expectCoded(await post(json(q, { id: 'x'.repeat(1024 * 1024) })), 413, 'BAD_USER_INPUT');
    const reply = await post(json(q, { id: 'x'.repeat(90 * 1024) }));
    expect(reply.status).toBe(200);
    expect(reply.body?.errors?.[0]?.extensions?.code).not.toBe('INTERNAL');
    expectCoded(reply, 200, reply.body?.errors?.[0]?.extensions?.code ?? 'missing');
    await stillServes();
  });

  it('null bytes in the query → coded BAD_USER_INPUT', async () => {
    expectCoded(await post(json('{ viewer { kind } }\u0000')), 200, 'BAD_USER_INPUT');
    await stillServes();
  });

  it('null bytes in a variable → a coded error that is not INTERNAL (lookup and write)', async () => {
    const read = await post(json('query($id: String!) { customer(customerId: $id) { id } }', { id: 'a\u0000b' }));
    expect(read.status).toBe(200);
    expect(read.body?.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    const write = await post(
      json('mutation($name: String!) { createScopedKey(input: { name: $name, scopes: ["coupons:read"] }) { apiKey { name } } }', {
        name: 'nul\u0000name',
      }),
    );
    expectCoded(write, 200, 'BAD_USER_INPUT');
    expect(write.body!.errors![0]!.message).toMatch(/^name: /);
    await stillServes();
  });

  it('NUL in every text argument of the schema: the same code on both dialects, never INTERNAL (SPEC §8)', async () => {
    const NUL = 'a\u0000b';
    const nulId = (prefix: string) => `${prefix}_\u0000`;
    const owner = { 'x-api-key': '', authorization: `Bearer ${await keygate.deps.sessions.mint(ownerId, 3600)}` };
    await post(json('mutation { createCustomer(input: { customerId: "nul-owner" }) { customer { id } } }'));
    const scoped = await post(
      json('mutation { createScopedKey(input: { name: "nul target", scopes: ["coupons:read"] }) { apiKey { id } } }'),
    );
    const scopedId: string = scoped.body!.data.createScopedKey.apiKey.id;
    const customerWith = (fields: string) =>
      `mutation($v: ${fields.includes('metadata') ? 'JSON' : 'String'}) { createCustomer(input: { customerId: "nul-new", ${fields} }) { customer { id } } }`;
    // [what, query, variables, answer: an error code (BAD_USER_INPUT names the field), or the data expected]
    const cases: [string, string, Record<string, unknown>, [string, string?] | { data: unknown }][] = [
      ['customer(customerId)', 'query($v: String!) { customer(customerId: $v) { id } }', { v: NUL }, ['NOT_FOUND']],
      [
        'customers(environmentId)',
        'query($v: ID) { customers(environmentId: $v) { totalCount } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
      ['customers(after)', 'query($v: String) { customers(after: $v) { totalCount } }', { v: NUL }, ['BAD_USER_INPUT', 'after']],
      [
        'createCustomer customerId',
        'mutation($v: String!) { createCustomer(input: { customerId: $v }) { customer { id } } }',
        { v: NUL },
        ['BAD_USER_INPUT', 'customerId'],
      ],
      ['createCustomer name', customerWith('name: $v'), { v: NUL }, ['BAD_USER_INPUT', 'name']],
      ['createCustomer email', customerWith('email: $v'), { v: 'a\u0000@b.test' }, ['BAD_USER_INPUT', 'email']],
      ['createCustomer metadata value', customerWith('metadata: $v'), { v: { note: NUL } }, ['BAD_USER_INPUT', 'metadata']],
      ['createCustomer metadata key', customerWith('metadata: $v'), { v: { [NUL]: 1 } }, ['BAD_USER_INPUT', 'metadata']],
      [
        'updateCustomer email',
        'mutation($v: String) { updateCustomer(input: { customerId: "nul-owner", email: $v }) { customer { id } } }',
        { v: `x@b.test${'\u0000'}` },
        ['BAD_USER_INPUT', 'email'],
      ],
      [
        'updateCustomer metadata',
        'mutation($v: JSON) { updateCustomer(input: { customerId: "nul-owner", metadata: $v }) { customer { id } } }',
        { v: [[{ deep: [NUL] }]] },
        ['BAD_USER_INPUT', 'metadata'],
      ],
      [
        'createSubscription customerId',
        'mutation($v: String!) { createSubscription(input: { customerId: $v, planId: "p" }) { subscription { id } } }',
        { v: NUL },
        ['NOT_FOUND'],
      ],
      [
        'createSubscription planId',
        'mutation($v: String!) { createSubscription(input: { customerId: "nul-owner", planId: $v }) { subscription { id } } }',
        { v: NUL },
        ['BAD_USER_INPUT', 'planId'],
      ],
      [
        'cancelSubscription id',
        'mutation($v: ID!) { cancelSubscription(input: { id: $v }) { subscription { id } } }',
        { v: nulId('sub') },
        ['NOT_FOUND'],
      ],
      [
        'createCoupon code',
        'mutation($v: String!) { createCoupon(input: { code: $v, percentOff: 5 }) { coupon { id } } }',
        { v: NUL },
        ['BAD_USER_INPUT', 'code'],
      ],
      [
        'coupons(environmentId)',
        'query($v: ID) { coupons(environmentId: $v) { totalCount } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
      [
        'activity filter apiKeyId',
        'query($v: ID) { activity(filter: { apiKeyId: $v }) { totalCount } }',
        { v: 'x\u0000' },
        { data: { activity: { totalCount: 0 } } },
      ],
      [
        'activity filter apiKeyId key_',
        'query($v: ID) { activity(filter: { apiKeyId: $v }) { totalCount } }',
        { v: nulId('key') },
        { data: { activity: { totalCount: 0 } } },
      ],
      [
        'activity(environmentId)',
        'query($v: ID) { activity(environmentId: $v) { totalCount } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
      [
        'apiKeys(environmentId)',
        'query($v: ID) { apiKeys(environmentId: $v) { totalCount } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
      ['apiKey(id)', 'query($v: ID!) { apiKey(id: $v) { id } }', { v: nulId('key') }, ['NOT_FOUND']],
      [
        'createScopedKey description',
        'mutation($v: String) { createScopedKey(input: { name: "n", description: $v, scopes: ["coupons:read"] }) { secret } }',
        { v: NUL },
        ['BAD_USER_INPUT', 'description'],
      ],
      [
        'createScopedKey scopes',
        'mutation($v: String!) { createScopedKey(input: { name: "n", scopes: [$v] }) { secret } }',
        { v: NUL },
        ['BAD_USER_INPUT', 'scopes'],
      ],
      [
        'updateApiKey id',
        'mutation($v: ID!) { updateApiKey(input: { id: $v, name: "n" }) { apiKey { id } } }',
        { v: nulId('key') },
        ['NOT_FOUND'],
      ],
      [
        'updateApiKey name',
        `mutation($v: String) { updateApiKey(input: { id: "${scopedId}", name: $v }) { apiKey { id } } }`,
        { v: NUL },
        ['BAD_USER_INPUT', 'name'],
      ],
      [
        'updateApiKey description',
        `mutation($v: String) { updateApiKey(input: { id: "${scopedId}", description: $v }) { apiKey { id } } }`,
        { v: NUL },
        ['BAD_USER_INPUT', 'description'],
      ],
      [
        'updateApiKeyScopes id',
        'mutation($v: ID!) { updateApiKeyScopes(input: { id: $v, scopes: ["coupons:read"] }) { apiKey { id } } }',
        { v: nulId('key') },
        ['NOT_FOUND'],
      ],
      [
        'rotateApiKey id',
        'mutation($v: ID!) { rotateApiKey(input: { id: $v, expireOldKeyIn: NOW }) { secret } }',
        { v: nulId('key') },
        ['NOT_FOUND'],
      ],
      [
        'changeGracePeriod id',
        'mutation($v: ID!) { changeGracePeriod(input: { id: $v, expireIn: NOW }) { apiKey { id } } }',
        { v: nulId('key') },
        ['NOT_FOUND'],
      ],
      [
        'revokeApiKey id',
        'mutation($v: ID!) { revokeApiKey(input: { id: $v }) { apiKey { id } } }',
        { v: nulId('key') },
        ['NOT_FOUND'],
      ],
      ['environment(id)', 'query($v: ID!) { environment(id: $v) { id } }', { v: nulId('env') }, ['NOT_FOUND']],
      [
        'integrations(environmentId)',
        'query($v: ID) { integrations(environmentId: $v) { id } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
      [
        'connectIntegration environmentId',
        'mutation($v: ID) { connectIntegration(input: { environmentId: $v, type: ZAPIER }) { secret } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
      [
        'disconnectIntegration id',
        'mutation($v: ID!) { disconnectIntegration(input: { id: $v }) { id } }',
        { v: nulId('int') },
        ['NOT_FOUND'],
      ],
      [
        'setClientSideSecurity environmentId',
        'mutation($v: ID) { setClientSideSecurity(input: { environmentId: $v, enforced: true }) { environment { id } } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
      [
        'rotateSigningSecret environmentId',
        'mutation($v: ID) { rotateSigningSecret(input: { environmentId: $v }) { environment { id } } }',
        { v: nulId('env') },
        ['NOT_FOUND'],
      ],
    ];
    const userCases: typeof cases = [
      [
        'createEnvironment name',
        `mutation($v: String!) { createEnvironment(input: { accountId: "${accountId}", name: $v }) { environment { id } } }`,
        { v: NUL },
        ['BAD_USER_INPUT', 'name'],
      ],
      [
        'createEnvironment accountId',
        'mutation($v: ID!) { createEnvironment(input: { accountId: $v, name: "n" }) { environment { id } } }',
        { v: nulId('acc') },
        ['NOT_FOUND'],
      ],
    ];
    for (const [what, query, variables, answer] of [...cases, ...userCases]) {
      const reply = await post(json(query, variables), userCases.some((c) => c[0] === what) ? owner : {});
      if ('data' in answer) {
        expect(reply.body, what).toEqual(answer);
        continue;
      }
      const [code, field] = answer;
      expectCoded(reply, 200, code);
      expect(
        reply.body!.errors!.map((e) => e.extensions?.code),
        what,
      ).toEqual([code]);
      if (field) expect(reply.body!.errors![0]!.message, what).toMatch(new RegExp(`^${field}: `));
    }
    await stillServes();
  });

  it('invalid UTF-8 in the query → coded BAD_USER_INPUT; in a variable → coded, not INTERNAL', async () => {
    const inQuery = Buffer.concat([Buffer.from('{"query":"{ viewer { kind'), Buffer.from([0xff, 0xfe]), Buffer.from(' } }"}')]);
    expectCoded(await post(inQuery), 200, 'BAD_USER_INPUT');
    const inVariable = Buffer.concat([
      Buffer.from('{"query":"query($id: String!) { customer(customerId: $id) { id } }","variables":{"id":"a'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}}'),
    ]);
    expectCoded(await post(inVariable), 200, 'NOT_FOUND');
    await stillServes();
  });

  it('wrong variable types → 400 BAD_USER_INPUT naming the variable', async () => {
    const cases: [string, Record<string, unknown>][] = [
      ['query($id: String!) { customer(customerId: $id) { id } }', { id: 5 }],
      ['query($n: Int) { apiKeys(first: $n) { totalCount } }', { n: 'many' }],
      ['query($n: Int) { apiKeys(first: $n) { totalCount } }', { n: 1e40 }],
      ['query($id: String!) { customer(customerId: $id) { id } }', { id: { nested: true } }],
      ['query($id: String!) { customer(customerId: $id) { id } }', {}],
    ];
    for (const [query, variables] of cases) {
      const reply = await post(json(query, variables));
      expectCoded(reply, 400, 'BAD_USER_INPUT');
      expect(reply.body!.errors![0]!.message).toMatch(/\$(id|n)/);
    }
    await stillServes();
  });

  it('a long list argument → data or BAD_USER_INPUT, never INTERNAL', async () => {
    const reply = await post(json(`{ apiKeys(filter: { statuses: [${'ACTIVE '.repeat(1500)}] }) { totalCount } }`));
    expect(reply.status).toBe(200);
    const code = reply.body?.errors?.[0]?.extensions?.code;
    if (code === undefined) expect(reply.body?.data?.apiKeys.totalCount).toBeGreaterThan(0);
    else expect(code).toBe('BAD_USER_INPUT');
    await stillServes();
  });

  it('malformed, overlong and non-ASCII API keys → 401 UNAUTHENTICATED', async () => {
    const cases: Record<string, string>[] = [
      withKey('garbage'),
      withKey('server-'),
      withKey(`${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`),
      withKey(`server-${'A'.repeat(10 * 1024)}`),
      withKey(Buffer.from('server-clé', 'utf8').toString('latin1')),
      withKey('é'),
      { authorization: 'Bearer' },
      { authorization: 'Basic Zm9vOmJhcg==' },
      { authorization: `Bearer ${'x'.repeat(10 * 1024)}` },
    ];
    for (const headers of cases) {
      const reply = await post(json('{ viewer { kind } }'), headers);
      expectCoded(reply, 401, 'UNAUTHENTICATED');
      expect(reply.body!.data).toBeUndefined();
    }
    await stillServes();
  });

  it('malformed, overlong and non-ASCII customer tokens with the publishable key → INVALID_CUSTOMER_TOKEN', async () => {
    const q = json('{ customer(customerId: "c1") { id } }');
    for (const token of ['garbage', 'a.b.c', 'x'.repeat(10 * 1024), Buffer.from('tökén.sïg', 'utf8').toString('latin1'), '.']) {
      const reply = await post(q, { 'x-api-key': publishable, 'x-customer-token': token });
      expectCoded(reply, 200, 'INVALID_CUSTOMER_TOKEN');
      expect(reply.body!.data?.customer ?? null).toBeNull();
    }
    await stillServes();
  });

  it('forged session JWTs (alg none, wrong secret, expired, no exp) → 401 UNAUTHENTICATED', async () => {
    const now = Math.floor(Date.now() / 1000);
    const none = new UnsecuredJWT({})
      .setSubject(ownerId)
      .setIssuer('keygate')
      .setExpirationTime(now + 3600)
      .encode();
    const sign = (secret: Uint8Array, exp: number | null) => {
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(ownerId)
        .setIssuer('keygate')
        .setIssuedAt(now - 7200);
      return (exp === null ? jwt : jwt.setExpirationTime(exp)).sign(secret);
    };
    const valid = await keygate.deps.sessions.mint(ownerId, 3600);
    // The same request with a genuine token succeeds, so the refusals below are about the token.
    const genuine = await post(json('{ viewer { kind } }'), { 'x-api-key': '', authorization: `Bearer ${valid}` });
    expect(genuine.body?.data).toEqual({ viewer: { kind: 'USER' } });
    const forged = [
      none,
      await sign(randomBytes(32), now + 3600),
      await sign(sessionSecret, now - 60),
      await sign(sessionSecret, null),
    ];
    for (const token of forged) {
      const reply = await post(json('{ viewer { kind } }'), { 'x-api-key': '', authorization: `Bearer ${token}` });
      expectCoded(reply, 401, 'UNAUTHENTICATED');
    }
    await stillServes();
  });
});
