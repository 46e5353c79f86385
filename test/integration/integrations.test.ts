import { beforeAll, describe, expect, it } from 'vitest';
import {
  ActivityDocument,
  ApiKeyDetailDocument,
  ApiKeysDocument,
  ConnectIntegrationDocument,
  CreateCustomerDocument,
  DisconnectIntegrationDocument,
  IntegrationsDocument,
  type IntegrationType,
  RevealApiKeyDocument,
  RevokeApiKeyDocument,
  RotateApiKeyDocument,
  UpdateApiKeyDocument,
  UpdateApiKeyScopesDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { BUILT_IN_CATALOGUE, CATALOGUE_NAMES } from '../../src/modules/permission/permission.catalogue.js';
import { expand, INTEGRATION_SCOPES } from '../../src/modules/permission/permission.model.js';
import { type Credential, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate();
});

/** The documented scope of each integration type (README), with implied reads. */
const EXPECTED_SCOPES: Record<IntegrationType, string[]> = {
  SALESFORCE: ['customers:read', 'customers:write', 'subscriptions:read'],
  HUBSPOT: ['customers:read', 'customers:write'],
  ZAPIER: ['customers:read', 'subscriptions:read', 'subscriptions:write', 'coupons:read'],
};
const EXPECTED_NAMES: Record<IntegrationType, string> = {
  SALESFORCE: 'Salesforce integration',
  HUBSPOT: 'HubSpot integration',
  ZAPIER: 'Zapier integration',
};
const TYPES = Object.keys(EXPECTED_SCOPES) as IntegrationType[];
const sorted = (xs: readonly string[]) => [...xs].sort();

/** Connects as the owner (or `credential`); environmentId null means the calling key's own environment. */
const connect = async (
  tenant: Tenant,
  type: IntegrationType,
  environmentId: string | null = tenant.dev.id,
  credential: Credential = { token: tenant.owner.token },
) => {
  const { body } = await t.run(ConnectIntegrationDocument, { input: { environmentId, type } }, credential);
  expect(body.errors).toBeUndefined();
  const { secret, integration } = body.data!.connectIntegration;
  return { secret, integration, keyId: integration.apiKey!.id };
};
/** The key's permissions as it authenticates, or UNAUTHENTICATED. */
const permissionsOf = async (secret: string) => {
  const { status, body } = await t.run(ViewerDocument, {}, { key: secret });
  return status === 401 ? 'UNAUTHENTICATED' : sorted(body.data!.viewer.permissions);
};
const keyCount = async (environmentId: string) =>
  (await t.keygate.deps.db.selectFrom('api_keys').select('id').where('environment_id', '=', environmentId).execute()).length;
const auditOf = async (keyId: string) =>
  (
    await t.keygate.deps.db.selectFrom('key_audit_events').select(['event']).where('key_id', '=', keyId).orderBy('id').execute()
  ).map((e) => e.event);
const listedKeyIds = async (tenant: Tenant, environmentId = tenant.dev.id) => {
  const { body } = await t.run(ApiKeysDocument, { environmentId, first: 100 }, { token: tenant.owner.token });
  expect(body.errors).toBeUndefined();
  return body.data!.apiKeys.edges.map((e) => e.node.id);
};
const integrationsOf = async (tenant: Tenant, environmentId = tenant.dev.id) => {
  const { body } = await t.run(IntegrationsDocument, { environmentId }, { token: tenant.owner.token });
  expect(body.errors).toBeUndefined();
  return body.data!.integrations;
};

describe('the documented scopes', () => {
  it('match the code: every integration type and its fixed scope', () => {
    expect(sorted(Object.keys(INTEGRATION_SCOPES))).toEqual(sorted(TYPES));
    for (const type of TYPES) {
      const withImplied = [...expand(INTEGRATION_SCOPES[type], BUILT_IN_CATALOGUE)].filter((p) =>
        (CATALOGUE_NAMES as readonly string[]).includes(p),
      );
      expect(sorted(withImplied), type).toEqual(sorted(EXPECTED_SCOPES[type]));
    }
  });
});

describe('connectIntegration', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it.each(TYPES)('connects %s: an INTEGRATION key of category DEFAULT with its fixed scope, secret shown once', async (type) => {
    const { secret, integration, keyId } = await connect(tenant, type);
    expect(secret).toMatch(/^server-[0-9A-Za-z]{49}$/);
    expect(integration).toMatchObject({
      id: expect.stringMatching(/^int_/),
      type,
      connectedAt: t.clock.now().toISOString(),
    });
    const key = integration.apiKey!;
    expect(key).toMatchObject({
      name: EXPECTED_NAMES[type],
      type: 'INTEGRATION',
      category: 'DEFAULT',
      status: 'ACTIVE',
      scopesEditable: false,
      nameEditable: false,
      expiresAt: null,
      revokedAt: null,
      maskedKey: `server-••••${secret.slice(-4)}`,
      environment: { id: tenant.dev.id },
      integration: { id: integration.id, type },
      createdBy: { type: 'USER', id: tenant.owner.id, displayName: tenant.owner.email },
    });
    expect(sorted(key.scopes)).toEqual(sorted(EXPECTED_SCOPES[type]));

    // It authenticates with exactly that scope, and nothing beyond it is allowed.
    const viewer = await t.run(ViewerDocument, {}, { key: secret });
    expect(viewer.body.data!.viewer).toMatchObject({ kind: 'API_KEY', apiKey: { id: keyId, type: 'INTEGRATION' } });
    expect(sorted(viewer.body.data!.viewer.permissions)).toEqual(sorted(EXPECTED_SCOPES[type]));
    const keys = await t.run(ApiKeysDocument, {}, { key: secret });
    expect(codes(keys.body)).toEqual(['FORBIDDEN']);
    const integrations = await t.run(IntegrationsDocument, {}, { key: secret });
    expect(codes(integrations.body)).toEqual(['FORBIDDEN']);

    // Shown once: no read gives it back.
    const detail = await t.run(ApiKeyDetailDocument, { id: keyId }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey!.auditLog.edges.map((e) => e.node.event)).toEqual(['KEY_CREATED']);
    const created = detail.body.data!.apiKey!.auditLog.edges[0]!.node.details as { integration: string; scopes: string[] };
    expect(created.integration).toBe(type);
    expect(sorted(created.scopes)).toEqual(sorted(EXPECTED_SCOPES[type]));
    const list = await t.run(IntegrationsDocument, { environmentId: tenant.dev.id }, { token: tenant.owner.token });
    for (const body of [detail.body, list.body]) expect(JSON.stringify(body)).not.toContain(secret);
  });

  it('lets the full access key connect in its own environment by default', async () => {
    const own = await seedTenant(t);
    const { integration, secret } = await connect(own, 'ZAPIER', null, { key: own.prod.fullAccessKey.secret });
    expect(integration.apiKey).toMatchObject({
      environment: { id: own.prod.id },
      createdBy: { type: 'API_KEY', id: own.prod.fullAccessKey.row.id, displayName: 'Full access key' },
    });
    const viewer = await t.run(ViewerDocument, {}, { key: secret });
    expect(viewer.body.data!.viewer.environment?.id).toBe(own.prod.id);
  });

  it('is a CONFLICT to connect the same type twice in one environment, creating nothing; another environment has its own', async () => {
    const own = await seedTenant(t);
    await connect(own, 'SALESFORCE', own.prod.id);
    const before = await keyCount(own.prod.id);
    const again = await t.run(
      ConnectIntegrationDocument,
      { input: { environmentId: own.prod.id, type: 'SALESFORCE' } },
      { token: own.owner.token },
    );
    expect(codes(again.body)).toEqual(['CONFLICT']);
    expect(again.body.errors![0]!.message).toContain('Salesforce');
    expect(await keyCount(own.prod.id)).toBe(before);
    expect((await integrationsOf(own, own.prod.id)).map((i) => i.type)).toEqual(['SALESFORCE']);
    await connect(own, 'SALESFORCE', own.dev.id);
  });

  it('rejects an unknown integration type as BAD_USER_INPUT', async () => {
    const { body } = await t.run(
      ConnectIntegrationDocument,
      { input: { environmentId: tenant.dev.id, type: 'STRIPE' as IntegrationType } },
      { token: tenant.owner.token },
    );
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('integrations', () => {
  it('lists the connected integrations of one environment with their keys', async () => {
    const tenant = await seedTenant(t);
    expect(await integrationsOf(tenant)).toEqual([]);
    const hubspot = await connect(tenant, 'HUBSPOT');
    const zapier = await connect(tenant, 'ZAPIER');
    const prodSalesforce = await connect(tenant, 'SALESFORCE', tenant.prod.id);
    const dev = await integrationsOf(tenant);
    expect(dev.map((i) => [i.id, i.type, i.apiKey?.id, i.apiKey?.type])).toEqual([
      [hubspot.integration.id, 'HUBSPOT', hubspot.keyId, 'INTEGRATION'],
      [zapier.integration.id, 'ZAPIER', zapier.keyId, 'INTEGRATION'],
    ]);
    expect((await integrationsOf(tenant, tenant.prod.id)).map((i) => i.id)).toEqual([prodSalesforce.integration.id]);
    // The full access key sees its own environment's integrations.
    const byKey = await t.run(IntegrationsDocument, {}, { key: tenant.prod.fullAccessKey.secret });
    expect(byKey.body.data!.integrations.map((i) => i.type)).toEqual(['SALESFORCE']);
    // Integration keys appear in the key list as DEFAULT keys.
    const defaults = await t.run(
      ApiKeysDocument,
      { environmentId: tenant.dev.id, filter: { categories: ['DEFAULT'] } },
      { token: tenant.owner.token },
    );
    expect(defaults.body.data!.apiKeys.edges.map((e) => e.node.type).sort()).toEqual([
      'FULL_ACCESS',
      'INTEGRATION',
      'INTEGRATION',
      'PUBLISHABLE',
    ]);
  });
});

describe('integration keys are immutable', () => {
  let tenant: Tenant;
  let zapier: Awaited<ReturnType<typeof connect>>;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    zapier = await connect(tenant, 'ZAPIER');
  });

  it('refuses re-scoping and revoking with IMMUTABLE_KEY, even to the owner', async () => {
    const owner = { token: tenant.owner.token };
    const rescope = await t.run(UpdateApiKeyScopesDocument, { input: { id: zapier.keyId, scopes: ['coupons:read'] } }, owner);
    expect(codes(rescope.body)).toEqual(['IMMUTABLE_KEY']);
    const revoke = await t.run(RevokeApiKeyDocument, { input: { id: zapier.keyId } }, owner);
    expect(codes(revoke.body)).toEqual(['IMMUTABLE_KEY']);
    expect(await permissionsOf(zapier.secret)).toEqual(sorted(EXPECTED_SCOPES.ZAPIER));
    expect(await auditOf(zapier.keyId)).toEqual(['KEY_CREATED']);
  });

  it('refuses renaming with IMMUTABLE_KEY', async () => {
    const { body } = await t.run(
      UpdateApiKeyDocument,
      { input: { id: zapier.keyId, name: 'My Zapier' } },
      { token: tenant.owner.token },
    );
    expect(codes(body)).toEqual(['IMMUTABLE_KEY']);
    const detail = await t.run(ApiKeyDetailDocument, { id: zapier.keyId }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey!.name).toBe('Zapier integration');
    expect(await auditOf(zapier.keyId)).toEqual(['KEY_CREATED']);
  });

  it('never lets an API key rotate or reveal it, not even the full access key (FORBIDDEN)', async () => {
    const admin = await tenant.scopedKey(['api_keys:write', 'customers:write', 'subscriptions:write', 'coupons:write']);
    const before = await keyCount(tenant.dev.id);
    for (const secret of [tenant.dev.fullAccessKey.secret, admin.secret]) {
      const rotate = await t.run(RotateApiKeyDocument, { input: { id: zapier.keyId, expireOldKeyIn: 'NOW' } }, { key: secret });
      expect(codes(rotate.body)).toEqual(['FORBIDDEN']);
      const reveal = await t.run(RevealApiKeyDocument, { id: zapier.keyId }, { key: secret });
      expect(reveal.body.data!.apiKey).toMatchObject({ id: zapier.keyId, secret: null });
      expect(codes(reveal.body)).toEqual(['FORBIDDEN']);
      expect(reveal.body.errors![0]!.path).toEqual(['apiKey', 'secret']);
    }
    expect(await keyCount(tenant.dev.id)).toBe(before);
    expect(await auditOf(zapier.keyId)).toEqual(['KEY_CREATED']);
    expect(await permissionsOf(zapier.secret)).toEqual(sorted(EXPECTED_SCOPES.ZAPIER));
  });

  it('lets the owner reveal and rotate it; the integration then points to the new key with the same fixed scope', async () => {
    const own = await seedTenant(t);
    const salesforce = await connect(own, 'SALESFORCE');
    const owner = { token: own.owner.token };
    const reveal = await t.run(RevealApiKeyDocument, { id: salesforce.keyId }, owner);
    expect(reveal.body.data!.apiKey!.secret).toBe(salesforce.secret);

    const { body } = await t.run(RotateApiKeyDocument, { input: { id: salesforce.keyId, expireOldKeyIn: 'NOW' } }, owner);
    expect(body.errors).toBeUndefined();
    const { apiKey, previousKey, secret } = body.data!.rotateApiKey;
    expect(apiKey).toMatchObject({
      type: 'INTEGRATION',
      category: 'DEFAULT',
      name: 'Salesforce integration',
      status: 'ACTIVE',
      integration: { id: salesforce.integration.id, type: 'SALESFORCE' },
    });
    expect(sorted(apiKey.scopes)).toEqual(sorted(EXPECTED_SCOPES.SALESFORCE));
    expect(previousKey).toMatchObject({ id: salesforce.keyId, status: 'EXPIRED' });
    expect((await integrationsOf(own)).map((i) => [i.id, i.apiKey?.id])).toEqual([[salesforce.integration.id, apiKey.id]]);
    expect(await permissionsOf(salesforce.secret)).toBe('UNAUTHENTICATED');
    expect(await permissionsOf(secret)).toEqual(sorted(EXPECTED_SCOPES.SALESFORCE));
  });
});

describe('disconnectIntegration', () => {
  it('stops the key on the very next request, drops it from key lists and integrations, keeps its audit trail and activity', async () => {
    const tenant = await seedTenant(t);
    const owner = { token: tenant.owner.token };
    const hubspot = await connect(tenant, 'HUBSPOT');
    const used = await t.run(CreateCustomerDocument, { input: { customerId: 'cus-from-hubspot' } }, { key: hubspot.secret });
    expect(used.body.errors).toBeUndefined();
    expect(await listedKeyIds(tenant)).toContain(hubspot.keyId);

    const { body } = await t.run(DisconnectIntegrationDocument, { input: { id: hubspot.integration.id } }, owner);
    expect(body.data!.disconnectIntegration).toEqual({ id: hubspot.integration.id });

    const next = await t.run(ViewerDocument, {}, { key: hubspot.secret });
    expect(next.status).toBe(401);
    expect(codes(next.body)).toEqual(['UNAUTHENTICATED']);
    expect(await listedKeyIds(tenant)).not.toContain(hubspot.keyId);
    const expiredList = await t.run(
      ApiKeysDocument,
      { environmentId: tenant.dev.id, filter: { statuses: ['EXPIRED'], categories: ['DEFAULT'] } },
      owner,
    );
    expect(expiredList.body.data!.apiKeys.edges.map((e) => e.node.id)).not.toContain(hubspot.keyId);
    expect(await integrationsOf(tenant)).toEqual([]);

    // The audit trail stays readable by id.
    const detail = await t.run(ApiKeyDetailDocument, { id: hubspot.keyId }, owner);
    expect(detail.body.errors).toBeUndefined();
    expect(detail.body.data!.apiKey).toMatchObject({
      id: hubspot.keyId,
      type: 'INTEGRATION',
      status: 'EXPIRED',
      revokedAt: t.clock.now().toISOString(),
      integration: { id: hubspot.integration.id, type: 'HUBSPOT' },
    });
    expect(detail.body.data!.apiKey!.auditLog.edges.map((e) => [e.node.event, e.node.actor.id])).toEqual([
      ['KEY_REVOKED', tenant.owner.id],
      ['KEY_CREATED', tenant.owner.id],
    ]);

    // And so does its activity.
    const activity = await t.run(ActivityDocument, { environmentId: tenant.dev.id, filter: { apiKeyId: hubspot.keyId } }, owner);
    expect(activity.body.errors).toBeUndefined();
    expect(activity.body.data!.activity.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({
        field: 'createCustomer',
        outcome: 'SUCCESS',
        apiKey: { id: hubspot.keyId, name: 'HubSpot integration', type: 'INTEGRATION' },
      }),
    ]);
  });

  it('is NOT_FOUND the second time; the same type can then be connected afresh', async () => {
    const tenant = await seedTenant(t);
    const owner = { token: tenant.owner.token };
    const first = await connect(tenant, 'ZAPIER');
    await t.run(DisconnectIntegrationDocument, { input: { id: first.integration.id } }, owner);
    const again = await t.run(DisconnectIntegrationDocument, { input: { id: first.integration.id } }, owner);
    expect(codes(again.body)).toEqual(['NOT_FOUND']);
    expect((await auditOf(first.keyId)).filter((e) => e === 'KEY_REVOKED')).toHaveLength(1);

    const second = await connect(tenant, 'ZAPIER');
    expect(second.integration.id).not.toBe(first.integration.id);
    expect((await integrationsOf(tenant)).map((i) => i.id)).toEqual([second.integration.id]);
    expect(await permissionsOf(second.secret)).toEqual(sorted(EXPECTED_SCOPES.ZAPIER));
    expect(await permissionsOf(first.secret)).toBe('UNAUTHENTICATED');
  });

  it('lets the full access key disconnect an integration of its environment', async () => {
    const tenant = await seedTenant(t);
    const hubspot = await connect(tenant, 'HUBSPOT');
    const { body } = await t.run(
      DisconnectIntegrationDocument,
      { input: { id: hubspot.integration.id } },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(body.errors).toBeUndefined();
    expect(await permissionsOf(hubspot.secret)).toBe('UNAUTHENTICATED');
    const detail = await t.run(ApiKeyDetailDocument, { id: hubspot.keyId }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey!.auditLog.edges[0]!.node).toMatchObject({
      event: 'KEY_REVOKED',
      actor: { type: 'API_KEY', id: tenant.dev.fullAccessKey.row.id, displayName: 'Full access key' },
    });
  });

  it('also stops a rotated-out key of the integration that is still in its grace period', async () => {
    const tenant = await seedTenant(t);
    const owner = { token: tenant.owner.token };
    const zapier = await connect(tenant, 'ZAPIER');
    const rotated = await t.run(RotateApiKeyDocument, { input: { id: zapier.keyId, expireOldKeyIn: 'ONE_DAY' } }, owner);
    expect(rotated.body.errors).toBeUndefined();
    expect(await permissionsOf(zapier.secret)).toEqual(sorted(EXPECTED_SCOPES.ZAPIER));

    await t.run(DisconnectIntegrationDocument, { input: { id: zapier.integration.id } }, owner);
    // Disconnecting removes the integration: none of its keys may still work or be listed.
    expect(await permissionsOf(rotated.body.data!.rotateApiKey.secret)).toBe('UNAUTHENTICATED');
    expect(await permissionsOf(zapier.secret)).toBe('UNAUTHENTICATED');
    const listed = await listedKeyIds(tenant);
    expect(listed).not.toContain(zapier.keyId);
    expect(listed).not.toContain(rotated.body.data!.rotateApiKey.apiKey.id);
  });
});

describe('who may manage integrations', () => {
  it('is FORBIDDEN to members, read-only users and scoped keys (even with the whole catalogue); nothing changes', async () => {
    const tenant = await seedTenant(t);
    const hubspot = await connect(tenant, 'HUBSPOT');
    const member = await tenant.user('MEMBER');
    const readOnly = await tenant.user('READ_ONLY');
    const everything = await tenant.scopedKey([...CATALOGUE_NAMES]);
    const before = await keyCount(tenant.dev.id);
    for (const credential of [
      { token: member.token },
      { token: readOnly.token },
      { key: everything.secret },
      { key: tenant.dev.publishableKey.secret },
    ]) {
      const list = await t.run(IntegrationsDocument, { environmentId: tenant.dev.id }, credential);
      expect(codes(list.body)).toEqual(['FORBIDDEN']);
      expect(list.body.errors![0]!.message).toContain('environment:manage');
      const connected = await t.run(
        ConnectIntegrationDocument,
        { input: { environmentId: tenant.dev.id, type: 'SALESFORCE' } },
        credential,
      );
      expect(codes(connected.body)).toEqual(['FORBIDDEN']);
      const disconnected = await t.run(DisconnectIntegrationDocument, { input: { id: hubspot.integration.id } }, credential);
      expect(codes(disconnected.body)).toEqual(['FORBIDDEN']);
    }
    expect(await keyCount(tenant.dev.id)).toBe(before);
    expect((await integrationsOf(tenant)).map((i) => i.id)).toEqual([hubspot.integration.id]);
    expect(await permissionsOf(hubspot.secret)).toEqual(sorted(EXPECTED_SCOPES.HUBSPOT));
  });

  it('answers NOT_FOUND for another environment’s or another account’s integration', async () => {
    const tenant = await seedTenant(t);
    const other = await seedTenant(t);
    const hubspot = await connect(tenant, 'HUBSPOT');
    for (const credential of [
      { key: tenant.prod.fullAccessKey.secret },
      { key: other.dev.fullAccessKey.secret },
      { token: other.owner.token },
    ]) {
      const { body } = await t.run(DisconnectIntegrationDocument, { input: { id: hubspot.integration.id } }, credential);
      expect(codes(body)).toEqual(['NOT_FOUND']);
    }
    for (const id of ['int_00000000000000000000000000', 'nonsense']) {
      const { body } = await t.run(DisconnectIntegrationDocument, { input: { id } }, { token: tenant.owner.token });
      expect(codes(body)).toEqual(['NOT_FOUND']);
    }
    expect(await permissionsOf(hubspot.secret)).toEqual(sorted(EXPECTED_SCOPES.HUBSPOT));
  });
});

const fullAccessKeyOf = async (target: Tenant): Promise<Credential> => ({ key: target.dev.fullAccessKey.secret });

describeSecurityMatrix('integrations', () => t, {
  permissions: ['environment:manage'],
  roles: ROLES_THAT.manage,
  targets: 'environment',
  allowedCredential: fullAccessKeyOf,
  call: (c, target) => t.run(IntegrationsDocument, { environmentId: target.dev.id }, c),
});
describeSecurityMatrix('connectIntegration', () => t, {
  permissions: ['environment:manage'],
  roles: ROLES_THAT.manage,
  targets: 'environment',
  allowedCredential: fullAccessKeyOf,
  // Zapier disconnected first when an earlier case connected it, so every allowed caller can connect it again.
  call: async (c, target) => {
    const connected = (await integrationsOf(target)).find((i) => i.type === 'ZAPIER');
    if (connected) await t.run(DisconnectIntegrationDocument, { input: { id: connected.id } }, { token: target.owner.token });
    return t.run(ConnectIntegrationDocument, { input: { environmentId: target.dev.id, type: 'ZAPIER' } }, c);
  },
});
describeSecurityMatrix('disconnectIntegration', () => t, {
  permissions: ['environment:manage'],
  roles: ROLES_THAT.manage,
  targets: 'environment',
  allowedCredential: fullAccessKeyOf,
  // A connected HubSpot integration of the target's Development environment (connected afresh when needed).
  call: async (c, target) => {
    const connected = (await integrationsOf(target)).find((i) => i.type === 'HUBSPOT');
    const id = connected?.id ?? (await connect(target, 'HUBSPOT')).integration.id;
    return t.run(DisconnectIntegrationDocument, { input: { id } }, c);
  },
});
