import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Kind, parse, print, visit } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * Operation limits at their defaults (README "Limits"): depth 12, aliases 30,
 * directives 20, tokens 2000, cost 50000, body 102400 bytes. Each rejects just
 * over with a coded BAD_USER_INPUT naming the limit, accepts just under, and
 * the server keeps serving.
 */
const t: TestKeygate = await startTestKeygate();
let tenant: Tenant;
let key: string;
beforeAll(async () => {
  tenant = await seedTenant(t);
  key = tenant.dev.fullAccessKey.secret;
});

const asKey = () => ({ key });

/** A rejection: one coded BAD_USER_INPUT error whose message matches `limit`, and no data. */
function expectLimitRejection(
  body: { errors?: readonly { message: string; extensions?: Record<string, unknown> }[]; data?: unknown },
  limit: RegExp,
) {
  expect(body.errors?.length, JSON.stringify(body).slice(0, 300)).toBeGreaterThan(0);
  expect(body.data ?? null).toBeNull();
  expect(codes(body as never)).toContain('BAD_USER_INPUT');
  expect(
    codes(body as never).every((c) => c === 'BAD_USER_INPUT'),
    JSON.stringify(body).slice(0, 300),
  ).toBe(true);
  expect(body.errors!.map((e) => e.message).join(' ')).toMatch(limit);
}

async function stillServes() {
  const { status, body } = await t.query('{ viewer { kind } }', {}, asKey());
  expect(status).toBe(200);
  expect(body.data).toEqual({ viewer: { kind: 'API_KEY' } });
}

/** `levels` nested object fields under the root, ending in `id`: depth = levels + 1. */
function nested(levels: number): string {
  let selection = 'id';
  for (let i = 0; i < levels; i++) selection = i % 2 ? `account { ${selection} }` : `environments { ${selection} }`;
  return `{ ${levels % 2 ? selection : `viewer { environment { ${selection} } }`} }`;
}

describe('depth (12)', () => {
  it('accepts depth 12', async () => {
    const { body } = await t.query(nested(11), {}, asKey());
    expect(body.errors).toBeUndefined();
    expect(body.data?.environments).toBeDefined();
  });
  it('rejects depth 13 with a coded BAD_USER_INPUT naming the depth limit, and keeps serving', async () => {
    const { body } = await t.query(
      `{ environments { ${'account { environments { '.repeat(6)}id${' } }'.repeat(6)} } }`,
      {},
      asKey(),
    );
    expectLimitRejection(body, /depth limit of 12/i);
    await stillServes();
  });
});

const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: viewer { kind }`).join(' ')} }`;

describe('aliases (30)', () => {
  it('accepts a few aliases and exactly 30', async () => {
    for (const n of [3, 30]) {
      const { body } = await t.query(aliases(n), {}, asKey());
      expect(body.errors).toBeUndefined();
      expect(Object.keys(body.data ?? {})).toHaveLength(n);
    }
  });
  it('rejects 31 and 10,000 aliases with a coded BAD_USER_INPUT naming the alias limit, and keeps serving', async () => {
    for (const n of [31, 10_000]) {
      const { body } = await t.query(aliases(n), {}, asKey());
      // 10,000 aliases also exceed the token and body limits, which may answer first.
      expectLimitRejection(
        body,
        n === 31 ? /aliases limit of 30/i : /aliases limit of 30|token limit of 2000|the limit is 102400/i,
      );
    }
    await stillServes();
  });
});

const directives = (n: number) => `{ viewer { ${'kind @include(if: true) '.repeat(n)} } }`;

describe('directives (20)', () => {
  it('accepts 20 directives', async () => {
    const { body } = await t.query(directives(20), {}, asKey());
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ viewer: { kind: 'API_KEY' } });
  });
  it('rejects 21 with a coded BAD_USER_INPUT naming the directive limit, and keeps serving', async () => {
    const { body } = await t.query(directives(21), {}, asKey());
    expectLimitRejection(body, /directives limit of 20/i);
    await stillServes();
  });
});

/**
 * `total` tokens, most of them in a list argument of a skipped field (so the
 * list is parsed and validated but never executed): 27 tokens around n values.
 */
function tokens(total: number): string {
  const n = total - 27;
  return `{ viewer { kind } apiKeys(filter: { statuses: [${'ACTIVE '.repeat(n)}] }) @skip(if: true) { totalCount } }`;
}

describe('tokens (2000)', () => {
  it('accepts exactly 2000 tokens', async () => {
    const { body } = await t.query(tokens(2000), {}, asKey());
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ viewer: { kind: 'API_KEY' } });
  });
  it('rejects 2001 tokens with a coded BAD_USER_INPUT naming the token limit, and keeps serving', async () => {
    const { body } = await t.query(tokens(2001), {}, asKey());
    expectLimitRejection(body, /token limit of 2000/i);
    await stillServes();
  });
});

/** n list fields at the largest page size: each costs 1625 in Armor's model (a literal `first: 100` multiplies its selection). */
const costly = (n: number) =>
  `{ ${Array.from({ length: n }, (_, i) => `${i ? `c${i}: ` : ''}apiKeys(first: 100) { edges { node { id name } } }`).join(' ')} }`;

describe('cost (50000)', () => {
  it('accepts a query costing just under 50000 (30 pages of 100 keys)', async () => {
    const { body } = await t.query(costly(30), {}, asKey());
    expect(body.errors).toBeUndefined();
    expect(Object.keys(body.data ?? {})).toHaveLength(30);
  });
  it('rejects one costing just over (31 pages) with a coded BAD_USER_INPUT naming the cost limit, and keeps serving', async () => {
    const { body } = await t.query(costly(31), {}, asKey());
    expectLimitRejection(body, /^Query cost limit of 50000 exceeded/i);
    await stillServes();
  });
  it('counts page sizes passed as variables too: the same 31 pages refused at first: $n = 100, accepted at 10', async () => {
    const paged = (n: number) =>
      `query($n: Int) { ${Array.from({ length: n }, (_, i) => `${i ? `c${i}: ` : ''}apiKeys(first: $n) { edges { node { id name } } }`).join(' ')} }`;
    const refused = await t.query(paged(31), { n: 100 }, asKey());
    expectLimitRejection(refused.body, /^Query cost limit of 50000 exceeded, found 50375\b/i);
    const accepted = await t.query(paged(31), { n: 10 }, asKey());
    expect(accepted.body.errors).toBeUndefined();
    expect(Object.keys(accepted.body.data ?? {})).toHaveLength(31);
    await stillServes();
  });

  it('lets every contract operation through at the largest page size, `first: 100` written inline', async () => {
    const contract = parse(readFileSync(path.resolve(import.meta.dirname, '../contract/operations.graphql'), 'utf8'));
    const fragments = contract.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
    const operations = contract.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    expect(operations.length).toBeGreaterThan(20);
    for (const operation of operations) {
      const inlined = visit(operation, {
        Argument: (node) =>
          node.name.value === 'first' && node.value.kind === Kind.VARIABLE
            ? { ...node, value: { kind: Kind.INT, value: '100' } }
            : undefined,
      });
      const source = print({ kind: Kind.DOCUMENT, definitions: [inlined, ...fragments] });
      // Mutations and queries with required variables stop at variable coercion, after every limit has passed.
      const { body } = await t.query(source, {}, asKey());
      const messages = (body.errors ?? []).map((e) => e.message);
      expect(
        messages.filter((m) => /limit of/i.test(m)),
        `${operation.name?.value}: ${messages.join(' | ')}`,
      ).toEqual([]);
    }
  });
});

describe('body size (102400 bytes)', () => {
  const bodyOf = (bytes: number) => {
    const base = JSON.stringify({ query: '{ viewer { kind } }', extensions: { pad: '' } });
    return JSON.stringify({ query: '{ viewer { kind } }', extensions: { pad: 'x'.repeat(bytes - base.length) } });
  };
  it('accepts a body of exactly 102400 bytes', async () => {
    const body = bodyOf(102_400);
    expect(Buffer.byteLength(body)).toBe(102_400);
    const res = await t.fetch(body, { 'x-api-key': key, 'content-length': '102400' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { viewer: { kind: 'API_KEY' } } });
  });
  it('answers 413 BAD_USER_INPUT naming the limit for 102401 bytes, and keeps serving', async () => {
    const res = await t.fetch(bodyOf(102_401), { 'x-api-key': key, 'content-length': '102401' });
    expect(res.status).toBe(413);
    const body = await res.json();
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors[0].message).toMatch(/102400/);
    await stillServes();
  });
});

describe('introspection', () => {
  const introspect = '{ __schema { queryType { name } types { name } } }';
  it('works for the full access key, a scoped key and an owner session', async () => {
    const scoped = await tenant.scopedKey(['coupons:read']);
    for (const credential of [{ key }, { key: scoped.secret }, { token: tenant.owner.token }]) {
      const { status, body } = await t.query(introspect, {}, credential);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data?.__schema.queryType.name).toBe('Query');
      expect(body.data?.__schema.types.length).toBeGreaterThan(10);
    }
  });
  it('is refused for the publishable key with a coded error', async () => {
    const { body } = await t.query(introspect, {}, { key: tenant.dev.publishableKey.secret });
    expect(body.data ?? null).toBeNull();
    expect(codes(body).length).toBeGreaterThan(0);
    expect(codes(body).every((c) => c === 'BAD_USER_INPUT')).toBe(true);
    expect(body.errors![0]!.message).toMatch(/introspection/i);
  });
  it('is refused for anonymous callers with 401 UNAUTHENTICATED', async () => {
    const { status, body } = await t.query(introspect, {}, null);
    expect(status).toBe(401);
    expect(codes(body)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('field suggestions', () => {
  it('anonymous callers get 401 and no suggestion anywhere in the body', async () => {
    for (const headers of [{}, { 'x-api-key': 'server-nonsense' }] as Record<string, string>[]) {
      const res = await t.fetch({ query: '{ viewr { kind } apiKys { totalCount } }' }, headers);
      expect(res.status).toBe(401);
      const text = await res.text();
      expect(text).not.toMatch(/did you mean/i);
      expect(text).not.toMatch(/viewer|apiKeys/);
      expect(codes(JSON.parse(text))).toEqual(['UNAUTHENTICATED']);
    }
  });
  it("an authenticated caller's typo gets a coded BAD_USER_INPUT", async () => {
    const { body } = await t.query('{ viewr { kind } }', {}, asKey());
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toMatch(/viewr/);
  });
});

describe('GET', () => {
  const get = (query: string) =>
    t.keygate.yoga.fetch(`http://keygate.test/graphql?query=${encodeURIComponent(query)}`, {
      method: 'GET',
      headers: { accept: 'application/json', 'x-api-key': key },
    });
  it('runs queries', async () => {
    const res = await get('{ viewer { kind } }');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { viewer: { kind: 'API_KEY' } } });
  });
  it('cannot run mutations: 405 with Allow: POST, and nothing is created', async () => {
    const before = await t.query('{ apiKeys(first: 100) { totalCount } }', {}, asKey());
    const res = await get('mutation { createScopedKey(input: { name: "via GET", scopes: ["coupons:read"] }) { secret } }');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const body = await res.json();
    expect(body.data).toBeUndefined();
    expect(body.errors[0].message).toMatch(/mutation/i);
    const after = await t.query('{ apiKeys(first: 100) { totalCount } }', {}, asKey());
    expect(after.body.data?.apiKeys.totalCount).toBe(before.body.data?.apiKeys.totalCount);
  });
  it('codes the GET-mutation refusal with a SPEC §7 code (BAD_USER_INPUT)', async () => {
    const res = await get('mutation { createScopedKey(input: { name: "via GET", scopes: ["coupons:read"] }) { secret } }');
    expect(codes(await res.json())).toEqual(['BAD_USER_INPUT']);
  });
});
