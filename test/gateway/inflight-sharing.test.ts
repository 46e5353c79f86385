import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { type Received, startRawUpstream, type TestUpstream } from '../harness/upstreams.js';

/**
 * In-flight sharing (upstream.share.ts): identical queries of one identity
 * in flight together reach the upstream once and all get its answer;
 * different identities, different documents or variables, mutations, and an
 * upstream with `deduplicate: false` are each sent on their own.
 */
const SDL = /* GraphQL */ `
  type Query { value(n: Int): Int @requiresScopes(scopes: [["values:read"]]) }
  type Mutation { bump: Int @requiresScopes(scopes: [["values:write"]]) }
`;

/** Both upstreams hold every request until the test lets them answer, so the callers' requests overlap. */
let held: (() => void)[] = [];
const release = () => {
  for (const answer of held) answer();
  held = [];
};
const answering = (req: { body: string }, res: import('node:http').ServerResponse) => {
  const { query, variables } = JSON.parse(req.body) as { query: string; variables?: { n?: number } };
  // The one root field the document asks for, answered with `n` (from the document or its variables).
  const field = /\b(value|other|bump|bumpOther)\b/.exec(query)![1]!;
  const n = variables?.n ?? Number(/n: (\d+)/.exec(query)?.[1] ?? 1);
  held.push(() => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data: { [field]: n } }));
  });
};

let t: TestKeygate;
let tenant: Tenant;
let shared: TestUpstream;
let unshared: TestUpstream;

beforeAll(async () => {
  shared = await startRawUpstream('shared', answering);
  unshared = await startRawUpstream('unshared', answering);
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-sharing-'));
  writeFileSync(path.join(dir, 'shared.graphql'), SDL);
  writeFileSync(path.join(dir, 'unshared.graphql'), SDL.replace('value(', 'other(').replace('bump', 'bumpOther'));
  const file = path.join(dir, 'upstreams.json');
  writeFileSync(
    file,
    JSON.stringify({
      upstreams: [
        { name: 'shared', url: shared.url, schema: { file: 'shared.graphql' }, reloadSeconds: 0 },
        { name: 'unshared', url: unshared.url, schema: { file: 'unshared.graphql' }, reloadSeconds: 0, deduplicate: false },
      ],
    }),
  );
  t = await startTestKeygate({ upstreamsFile: file, dataDir: dir });
  tenant = await seedTenant(t);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `upstream` has received `count` more requests than `from`, or fails after 5 s. */
async function receivedAtLeast(upstream: TestUpstream, from: number, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (upstream.received.length - from < count) {
    if (Date.now() > deadline) throw new Error(`${upstream.name} got ${upstream.received.length - from} of ${count} requests`);
    await sleep(10);
  }
}

/**
 * Sends every call at once; once `expected` requests reached the upstream,
 * waits a while longer (any request that was not shared arrives by then),
 * lets the upstream answer, and returns the answers and what it received.
 */
async function together(
  upstream: TestUpstream,
  expected: number,
  calls: { query: string; key: string; variables?: Record<string, unknown> }[],
) {
  const from = upstream.received.length;
  const answers = Promise.all(calls.map((c) => t.query(c.query, c.variables ?? {}, { key: c.key })));
  await receivedAtLeast(upstream, from, expected);
  await sleep(300);
  release();
  const bodies = (await answers).map((a) => a.body);
  return { bodies, received: upstream.received.slice(from) };
}

const ROOT = { query: 'query Value { value(n: 7) }' };

/** The claims of the identity token an upstream request carried. */
const claimsOf = (received: Received) => decodeJwt(received.headers.authorization!.replace('Bearer ', ''));

describe('in-flight sharing of identical upstream queries', () => {
  it('sends identical queries of one key in flight together once, and answers every caller with the upstream’s answer', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const { bodies, received } = await together(
      shared,
      1,
      Array.from({ length: 5 }, () => ({ ...ROOT, key })),
    );
    expect(received).toHaveLength(1);
    expect(bodies).toEqual(Array.from({ length: 5 }, () => ({ data: { value: 7 } })));
    // The one request carries the identity of the key that sent it.
    expect(claimsOf(received[0]!).sub).toBe(tenant.dev.fullAccessKey.row.id);
  });

  it('records every shared call in the activity log', async () => {
    const reader = await tenant.scopedKey(['values:read']);
    await together(
      shared,
      1,
      Array.from({ length: 4 }, () => ({ ...ROOT, key: reader.secret })),
    );
    await t.keygate.deps.activity.flush();
    const { body } = await t.query(
      'query($key: ID!) { activity(first: 50, filter: { apiKeyId: $key }) { totalCount edges { node { field outcome } } } }',
      { key: reader.row.id },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(body.data!.activity.totalCount).toBe(4);
    expect(body.data!.activity.edges.map((e: { node: unknown }) => e.node)).toEqual(
      Array.from({ length: 4 }, () => ({ field: 'value', outcome: 'SUCCESS' })),
    );
  });

  it('never shares between two keys, even with the same scopes: each identity is sent on its own', async () => {
    const first = await tenant.scopedKey(['values:read']);
    const second = await tenant.scopedKey(['values:read']);
    const { bodies, received } = await together(shared, 2, [
      { ...ROOT, key: first.secret },
      { ...ROOT, key: second.secret },
      { ...ROOT, key: first.secret },
    ]);
    expect(received).toHaveLength(2);
    const subjects = received.map((r) => claimsOf(r).sub).sort();
    expect(subjects).toEqual([first.row.id, second.row.id].sort());
    expect(bodies).toEqual(Array.from({ length: 3 }, () => ({ data: { value: 7 } })));
  });

  it('never shares queries whose variables differ', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const query = 'query Value($n: Int) { value(n: $n) }';
    const { bodies, received } = await together(shared, 2, [
      { query, key, variables: { n: 1 } },
      { query, key, variables: { n: 2 } },
    ]);
    expect(received.map((r) => r.variables).sort((a, b) => Number(a!.n) - Number(b!.n))).toEqual([{ n: 1 }, { n: 2 }]);
    expect(bodies).toEqual([{ data: { value: 1 } }, { data: { value: 2 } }]);
  });

  it('never shares mutations: each one is sent', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const { bodies, received } = await together(
      shared,
      3,
      Array.from({ length: 3 }, () => ({ query: 'mutation Bump { bump }', key })),
    );
    expect(received).toHaveLength(3);
    expect(bodies).toEqual(Array.from({ length: 3 }, () => ({ data: { bump: 1 } })));
  });

  it('sends every query on its own to an upstream with deduplicate: false', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const { bodies, received } = await together(
      unshared,
      4,
      Array.from({ length: 4 }, () => ({ query: 'query Other { other(n: 3) }', key })),
    );
    expect(received).toHaveLength(4);
    expect(new Set(received.map((r) => claimsOf(r).jti)).size).toBe(4);
    expect(bodies).toEqual(Array.from({ length: 4 }, () => ({ data: { other: 3 } })));
  });

  it('sends a query again once the first answer came: only requests in flight together share', async () => {
    const key = tenant.dev.fullAccessKey.secret;
    const first = await together(shared, 1, [{ ...ROOT, key }]);
    const second = await together(shared, 1, [{ ...ROOT, key }]);
    expect([first.received.length, second.received.length]).toEqual([1, 1]);
    expect(first.received[0]!.headers.authorization).not.toBe(second.received[0]!.headers.authorization);
  });
});
