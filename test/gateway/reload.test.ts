import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { startYogaUpstream, type TestUpstream, upstreamsFile } from '../harness/upstreams.js';

/** A catalog service whose SDL the test changes while it runs. */
const BASE = /* GraphQL */ `
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
  type Query {
    products: [Product!]! @requiresScopes(scopes: [["catalog:read"]])
  }
  type Product { id: ID! name: String! }
`;
const WITH_COSTS = BASE.replace(
  'type Product { id: ID! name: String! }',
  'type Product { id: ID! name: String! "Purchase price." cost: Int @requiresScopes(scopes: [["costs:read"]]) }',
);

let sdl = BASE;
let t: TestKeygate;
let catalog: TestUpstream;
let tenant: Tenant;

beforeAll(async () => {
  catalog = await startYogaUpstream('catalog', () => sdl, {
    Query: { products: () => [{ id: 'p1', name: 'Lamp', cost: 12 }] },
  });
  t = await startTestKeygate({
    upstreamsFile: upstreamsFile([catalog], { catalog: { reloadSeconds: 0 } }),
    dataDir: mkdtempSync(path.join(tmpdir(), 'keygate-reload-')),
  });
  tenant = await seedTenant(t);
});

const permissionsOf = async (key: string) =>
  (await t.query('{ viewer { permissions } }', {}, { key })).body.data!.viewer.permissions as string[];

describe('reloading upstreams', () => {
  it('adds a scope an upstream starts naming: the full access key holds it at once, an existing scoped key does not', async () => {
    const scoped = await tenant.scopedKey(['catalog:read']);
    expect(await permissionsOf(tenant.dev.fullAccessKey.secret)).not.toContain('costs:read');

    sdl = WITH_COSTS;
    expect(await t.keygate.deps.gateway.reload('test')).toBe(true);

    expect(await permissionsOf(tenant.dev.fullAccessKey.secret)).toContain('costs:read');
    expect(await permissionsOf(scoped.secret)).not.toContain('costs:read');
    const full = await t.query('{ products { name cost } }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(full.body).toEqual({ data: { products: [{ name: 'Lamp', cost: 12 }] } });
    const narrow = await t.query('{ products { name cost } }', {}, { key: scoped.secret });
    expect(narrow.body.data).toEqual({ products: [{ name: 'Lamp', cost: null }] });
    expect(narrow.body.errors![0]!.message).toContain('costs:read');
    const listed = await t.query('{ permissions { name description } }', {}, { key: scoped.secret });
    expect(listed.body.data!.permissions).toContainEqual({ name: 'costs:read', description: 'Purchase price.' });
  });

  it('keeps a scope that vanishes on the keys that hold it, granting nothing until it comes back', async () => {
    sdl = WITH_COSTS;
    await t.keygate.deps.gateway.reload('test');
    const holder = await tenant.scopedKey(['catalog:read', 'costs:read']);

    sdl = BASE;
    await t.keygate.deps.gateway.reload('test');
    const gone = await t.query('{ products { cost } }', {}, { key: holder.secret });
    expect(codes(gone.body)).toEqual(['BAD_USER_INPUT']);
    const stored = await t.query(
      'query($id: ID!) { apiKey(id: $id) { scopes } }',
      { id: holder.row.id },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(stored.body.data!.apiKey.scopes).toContain('costs:read');
    expect(await permissionsOf(holder.secret)).not.toContain('costs:read');
    const created = await t.query(
      'mutation { createScopedKey(input: { name: "late", scopes: ["costs:read"] }) { secret } }',
      {},
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(codes(created.body)).toEqual(['BAD_USER_INPUT']);

    sdl = WITH_COSTS;
    await t.keygate.deps.gateway.reload('test');
    const back = await t.query('{ products { cost } }', {}, { key: holder.secret });
    expect(back.body).toEqual({ data: { products: [{ cost: 12 }] } });
  });

  it('keeps the last good schema when a reload fails, and says so in the log', async () => {
    sdl = WITH_COSTS;
    await t.keygate.deps.gateway.reload('test');
    // Still a schema the upstream serves, but a scope name Keygate refuses.
    sdl = WITH_COSTS.replace('"costs:read"', '"Costs:Read"');
    const logged = capturedLogs.length;
    expect(await t.keygate.deps.gateway.reload('test')).toBe(false);
    const { body } = await t.query('{ products { name cost } }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(body).toEqual({ data: { products: [{ name: 'Lamp', cost: 12 }] } });
    const failure = capturedLogs
      .slice(logged)
      .map((line) => JSON.parse(line))
      .find((r) => r.msg?.includes('reload failed'));
    expect(failure?.err?.message).toContain('Costs:Read');
    sdl = WITH_COSTS;
  });
});
