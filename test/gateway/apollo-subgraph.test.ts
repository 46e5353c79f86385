import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Credential, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';
import { startApolloSubgraph, type TestUpstream, upstreamsFile } from '../harness/upstreams.js';

/** An inventory subgraph on Apollo Server with @apollo/subgraph: another stack, Federation v2 SDL. */
const INVENTORY_SDL = /* GraphQL */ `
  extend schema
    @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable", "@requiresScopes"])

  type Query {
    "Stock levels of the caller's warehouse."
    stock: [Item!]! @requiresScopes(scopes: [["inventory:read"]])
  }

  type Mutation {
    adjustStock(sku: ID!, delta: Int!): Item @requiresScopes(scopes: [["inventory:write"]])
  }

  type Item @key(fields: "sku") {
    sku: ID!
    quantity: Int!
    "What the warehouse paid."
    unitCost: Int @requiresScopes(scopes: [["inventory:costs"]])
  }
`;

const items = [{ sku: 'lamp', quantity: 3, unitCost: 12 }];

let t: TestKeygate;
let inventory: TestUpstream;
let tenant: Tenant;
beforeAll(async () => {
  inventory = await startApolloSubgraph('inventory', INVENTORY_SDL, {
    Query: { stock: () => items },
    Mutation: {
      adjustStock: (_: unknown, args: { sku: string; delta: number }) => {
        const item = items.find((i) => i.sku === args.sku);
        if (item) item.quantity += args.delta;
        return item ?? null;
      },
    },
  });
  t = await startTestKeygate({
    upstreamsFile: upstreamsFile([inventory]),
    dataDir: mkdtempSync(path.join(tmpdir(), 'keygate-apollo-')),
  });
  tenant = await seedTenant(t);
});

/** Calls Keygate for `target`'s Development environment, as a user would name it. */
function callFor(query: string) {
  return async (credential: Credential, target: Tenant) => {
    const headers: Record<string, string> = { 'x-keygate-environment': target.dev.id };
    if (credential && 'key' in credential) headers['x-api-key'] = credential.key;
    if (credential && 'token' in credential) headers.authorization = `Bearer ${credential.token}`;
    if (credential && 'headers' in credential) Object.assign(headers, credential.headers);
    const res = await t.fetch({ query }, headers);
    return { status: res.status, body: (await res.json()) as never };
  };
}

describe('an Apollo Server subgraph behind Keygate', () => {
  it('reads its SDL through _service, serves its fields and enforces its @requiresScopes before fetch', async () => {
    const reader = await tenant.scopedKey(['inventory:read']);
    const from = inventory.received.length;
    const { body } = await t.query('{ stock { sku quantity unitCost } }', {}, { key: reader.secret });
    expect(body.data).toEqual({ stock: [{ sku: 'lamp', quantity: 3, unitCost: null }] });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.message).toContain('inventory:costs');
    const sent = inventory.received.slice(from);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.query).not.toContain('unitCost');
    expect(sent[0]!.headers.authorization).toMatch(/^Bearer ey/);
  });

  it('never sends a mutation the caller may not run', async () => {
    const reader = await tenant.scopedKey(['inventory:read']);
    const from = inventory.received.length;
    const { body } = await t.query('mutation { adjustStock(sku: "lamp", delta: 5) { quantity } }', {}, { key: reader.secret });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(inventory.received.slice(from)).toEqual([]);
    expect(items[0]!.quantity).toBe(3);
  });
});

describeSecurityMatrix('upstream query stock', () => t, {
  call: callFor('{ stock { sku } }'),
  permissions: ['inventory:read'],
  targets: 'environment',
  roles: ROLES_THAT.read,
});

describeSecurityMatrix('upstream mutation adjustStock', () => t, {
  call: callFor('mutation { adjustStock(sku: "lamp", delta: 0) { sku } }'),
  permissions: ['inventory:write'],
  targets: 'environment',
  roles: ROLES_THAT.writeResources,
});
