import { beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyDetailDocument, ApiKeysDocument } from '../../src/client/generated/graphql.js';
import { HOUR } from '../../src/shared/clock.js';
import { codes, seedTenant, setKeyColumns, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate();
});

describe('apiKeys', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it("lists the calling key's environment by default, masked, in creation order", async () => {
    const { body } = await t.run(ApiKeysDocument, {}, { key: tenant.dev.fullAccessKey.secret });
    const nodes = body.data!.apiKeys.edges.map((e) => e.node);
    expect(body.data!.apiKeys.totalCount).toBe(2);
    expect(nodes.map((n) => n.type)).toEqual(['FULL_ACCESS', 'PUBLISHABLE']);
    const [full, publishable] = nodes;
    expect(full).toMatchObject({
      name: 'Full access key',
      category: 'DEFAULT',
      status: 'ACTIVE',
      scopesEditable: false,
      nameEditable: false,
      maskedKey: `server-••••${tenant.dev.fullAccessKey.secret.slice(-4)}`,
      environment: { id: tenant.dev.id, name: 'Development' },
      createdBy: { type: 'SYSTEM', id: null, displayName: 'System' },
      integration: null,
    });
    expect(publishable!.maskedKey).toBe(`client-••••${tenant.dev.publishableKey.secret.slice(-4)}`);
    expect(JSON.stringify(body)).not.toContain(tenant.dev.fullAccessKey.secret);
  });

  it('requires users to name the environment, and lists it for them', async () => {
    const missing = await t.run(ApiKeysDocument, {}, { token: tenant.owner.token });
    expect(codes(missing.body)).toEqual(['BAD_USER_INPUT']);
    expect(missing.body.errors![0]!.message).toContain('environmentId');
    const { body } = await t.run(ApiKeysDocument, { environmentId: tenant.prod.id }, { token: tenant.owner.token });
    expect(body.data!.apiKeys.edges.map((e) => e.node.id)).toEqual([
      tenant.prod.fullAccessKey.row.id,
      tenant.prod.publishableKey.row.id,
    ]);
  });

  it('filters by category and by computed status', async () => {
    const scoped = await tenant.scopedKey(['coupons:read']);
    const expiring = await tenant.scopedKey(['coupons:read']);
    const expired = await tenant.scopedKey(['coupons:read']);
    await setKeyColumns(t, expiring.row.id, { expires_at: new Date(t.clock.now().getTime() + HOUR).toISOString() });
    await setKeyColumns(t, expired.row.id, { revoked_at: t.clock.now().toISOString() });
    const list = async (filter: object) => {
      const { body } = await t.run(ApiKeysDocument, { filter }, { key: tenant.dev.fullAccessKey.secret });
      expect(body.errors).toBeUndefined();
      return { ids: body.data!.apiKeys.edges.map((e) => e.node.id), total: body.data!.apiKeys.totalCount };
    };
    expect((await list({ categories: ['SCOPED'] })).ids).toEqual([scoped.row.id, expiring.row.id, expired.row.id]);
    expect((await list({ categories: ['DEFAULT'] })).total).toBe(2);
    expect((await list({ statuses: ['EXPIRING_SOON'] })).ids).toEqual([expiring.row.id]);
    expect((await list({ statuses: ['EXPIRED'] })).ids).toEqual([expired.row.id]);
    expect((await list({ categories: ['SCOPED'], statuses: ['ACTIVE'] })).ids).toEqual([scoped.row.id]);
    expect((await list({ statuses: ['ACTIVE', 'EXPIRED'] })).total).toBe(4);
    const { body } = await t.run(ApiKeyDetailDocument, { id: expired.row.id }, { key: tenant.dev.fullAccessKey.secret });
    expect(body.data!.apiKey).toMatchObject({ status: 'EXPIRED', revokedAt: t.clock.now().toISOString() });
  });

  it('rejects unknown filter values with a coded error', async () => {
    const { body } = await t.run(
      ApiKeysDocument,
      { filter: { statuses: ['SOMETIMES' as never] } },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toContain('SOMETIMES');
  });
});

describe('apiKeys pagination', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    for (let i = 0; i < 5; i++) await tenant.scopedKey(['coupons:read'], { name: `k${i}` });
  });

  it('walks every key exactly once with Relay cursors', async () => {
    const seen: string[] = [];
    let after: string | null | undefined;
    let pages = 0;
    do {
      const { body } = await t.run(ApiKeysDocument, { first: 3, after }, { key: tenant.dev.fullAccessKey.secret });
      const conn = body.data!.apiKeys;
      expect(conn.totalCount).toBe(7);
      seen.push(...conn.edges.map((e) => e.node.id));
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)?.cursor ?? null);
      after = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(7);
  });

  it('caps the page size at 100 and rejects bad cursors, naming the argument', async () => {
    const tooBig = await t.run(ApiKeysDocument, { first: 101 }, { key: tenant.dev.fullAccessKey.secret });
    expect(codes(tooBig.body)).toEqual(['BAD_USER_INPUT']);
    expect(tooBig.body.errors![0]!.message).toMatch(/first.*100/);
    const negative = await t.run(ApiKeysDocument, { first: -1 }, { key: tenant.dev.fullAccessKey.secret });
    expect(codes(negative.body)).toEqual(['BAD_USER_INPUT']);
    const badCursor = await t.run(ApiKeysDocument, { after: 'bm90IGEgY3Vyc29y' }, { key: tenant.dev.fullAccessKey.secret });
    expect(codes(badCursor.body)).toEqual(['BAD_USER_INPUT']);
    expect(badCursor.body.errors![0]!.message).toContain('after');
    const hundred = await t.run(ApiKeysDocument, { first: 100 }, { key: tenant.dev.fullAccessKey.secret });
    expect(hundred.body.data!.apiKeys.edges).toHaveLength(7);
  });
});

describe('apiKey', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('shows a key with its audit log, newest first, paginated', async () => {
    const { body } = await t.run(
      ApiKeyDetailDocument,
      { id: tenant.dev.fullAccessKey.row.id, first: 10 },
      { token: tenant.owner.token },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.apiKey).toMatchObject({
      id: tenant.dev.fullAccessKey.row.id,
      type: 'FULL_ACCESS',
      status: 'ACTIVE',
      rotatedFrom: null,
      rotatedTo: null,
      auditLog: {
        totalCount: 1,
        edges: [{ node: { event: 'KEY_CREATED', actor: { type: 'SYSTEM', displayName: 'System' }, details: null } }],
      },
    });
  });

  it('answers NOT_FOUND for unknown ids and for ids of other tenants', async () => {
    const other = await seedTenant(t);
    for (const id of ['key_nope', other.dev.fullAccessKey.row.id, 'acc_x']) {
      const { body } = await t.run(ApiKeyDetailDocument, { id }, { key: tenant.dev.fullAccessKey.secret });
      expect(body.data!.apiKey).toBeNull();
      expect(codes(body)).toEqual(['NOT_FOUND']);
    }
  });
});

describeSecurityMatrix('apiKeys', () => t, {
  permissions: ['api_keys:read'],
  roles: ROLES_THAT.read,
  targets: 'environment',
  call: (credential, target) => t.run(ApiKeysDocument, { environmentId: target.dev.id }, credential),
});

describeSecurityMatrix('apiKey', () => t, {
  permissions: ['api_keys:read'],
  roles: ROLES_THAT.read,
  targets: 'environment',
  call: (credential, target) => t.run(ApiKeyDetailDocument, { id: target.dev.publishableKey.row.id }, credential),
});
