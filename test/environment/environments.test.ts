import { beforeAll, describe, expect, it } from 'vitest';
import {
  ApiKeysDocument,
  CreateEnvironmentDocument,
  EnvironmentsDocument,
  PermissionsDocument,
  SigningSecretDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { CATALOGUE_NAMES } from '../../src/modules/permission/permission.catalogue.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';

let t: TestKeygate;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
});

describe('permissions', () => {
  it('lists the catalogue with resource, access and description', async () => {
    const { body } = await t.run(PermissionsDocument, {}, { key: tenant.dev.publishableKey.secret });
    const permissions = body.data!.permissions;
    expect(permissions.map((p) => p.name)).toEqual(CATALOGUE_NAMES);
    expect(permissions).toContainEqual(
      expect.objectContaining({ name: 'customers:write', resource: 'customers', access: 'WRITE' }),
    );
    expect(permissions.every((p) => p.description.length > 10)).toBe(true);
  });
});

describe('environments', () => {
  it('shows a server key only its own environment', async () => {
    const scoped = await tenant.scopedKey(['coupons:read'], { environmentId: tenant.prod.id });
    const { body } = await t.run(EnvironmentsDocument, {}, { key: scoped.secret });
    expect(body.data!.environments).toEqual([
      expect.objectContaining({
        id: tenant.prod.id,
        name: 'Production',
        slug: 'production',
        clientSideSecurity: 'NOT_ENFORCED',
        account: { id: tenant.accountId, name: tenant.result.account.name, plan: 'SCALE' },
      }),
    ]);
  });

  it('is FORBIDDEN to the publishable key (SPEC §5: customers, viewer and permissions only), by list and by id', async () => {
    const key = { key: tenant.prod.publishableKey.secret };
    const list = await t.run(EnvironmentsDocument, {}, key);
    expect(codes(list.body)).toEqual(['FORBIDDEN']);
    expect(list.body.errors![0]!.message).toContain('environment:read');
    const one = await t.query(`{ environment(id: "${tenant.prod.id}") { id clientSideSecurity } }`, {}, key);
    expect(codes(one.body)).toEqual(['FORBIDDEN']);
    expect(one.body.data?.environment ?? null).toBeNull();
  });

  it("shows a user every environment of their accounts and nothing of others'", async () => {
    const other = await seedTenant(t);
    const { body } = await t.run(EnvironmentsDocument, {}, { token: tenant.owner.token });
    expect(body.data!.environments.map((e) => e.id)).toEqual([tenant.dev.id, tenant.prod.id]);
    expect(JSON.stringify(body)).not.toContain(other.dev.id);
  });

  it('reads one environment, and NOT_FOUND across tenants', async () => {
    const other = await seedTenant(t);
    const mine = await t.run(SigningSecretDocument, { id: tenant.dev.id }, { token: tenant.owner.token });
    expect(mine.body.data!.environment?.id).toBe(tenant.dev.id);
    const theirs = await t.run(SigningSecretDocument, { id: other.dev.id }, { token: tenant.owner.token });
    expect(theirs.body.data!.environment).toBeNull();
    expect(codes(theirs.body)).toEqual(['NOT_FOUND']);
  });
});

describe('signing secret', () => {
  it('is readable by owners and the full access key, and is the same secret for both', async () => {
    const byOwner = await t.run(SigningSecretDocument, { id: tenant.dev.id }, { token: tenant.owner.token });
    const byKey = await t.run(SigningSecretDocument, { id: tenant.dev.id }, { key: tenant.dev.fullAccessKey.secret });
    expect(byOwner.body.data!.environment!.signingSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(byKey.body.data!.environment!.signingSecret).toBe(byOwner.body.data!.environment!.signingSecret);
  });

  it('is null with FORBIDDEN for members, read-only users and scoped keys; the rest stays intact', async () => {
    const member = await tenant.user('MEMBER');
    const readOnly = await tenant.user('READ_ONLY');
    const allScopes = await tenant.scopedKey([...CATALOGUE_NAMES]);
    for (const credential of [{ token: member.token }, { token: readOnly.token }, { key: allScopes.secret }]) {
      const { body } = await t.run(SigningSecretDocument, { id: tenant.dev.id }, credential);
      expect(body.data!.environment).toEqual({ id: tenant.dev.id, clientSideSecurity: 'NOT_ENFORCED', signingSecret: null });
      expect(codes(body)).toEqual(['FORBIDDEN']);
      expect(body.errors![0]!.path).toEqual(['environment', 'signingSecret']);
    }
  });
});

describe('createEnvironment', () => {
  it('lets an owner create an environment with both default keys and their audit events', async () => {
    const { body } = await t.run(
      CreateEnvironmentDocument,
      { input: { accountId: tenant.accountId, name: 'Staging EU' } },
      { token: tenant.owner.token },
    );
    expect(body.errors).toBeUndefined();
    const created = body.data!.createEnvironment;
    expect(created.environment).toMatchObject({ name: 'Staging EU', slug: 'staging-eu' });
    expect(created.fullAccessKey.apiKey).toMatchObject({
      type: 'FULL_ACCESS',
      status: 'ACTIVE',
      createdBy: { type: 'USER', id: tenant.owner.id, displayName: tenant.owner.email },
    });
    expect(created.publishableKey.apiKey).toMatchObject({ type: 'PUBLISHABLE', environment: { id: created.environment.id } });
    expect(created.fullAccessKey.secret).toMatch(/^server-/);
    expect(created.publishableKey.secret).toMatch(/^client-/);

    const keys = await t.run(ApiKeysDocument, {}, { key: created.fullAccessKey.secret });
    expect(keys.body.data!.apiKeys.totalCount).toBe(2);
    const events = await t.keygate.deps.db
      .selectFrom('key_audit_events')
      .selectAll()
      .where('environment_id', '=', created.environment.id)
      .execute();
    expect(events.map((e) => [e.key_id, e.event, e.actor_id])).toEqual([
      [created.fullAccessKey.apiKey.id, 'KEY_CREATED', tenant.owner.id],
      [created.publishableKey.apiKey.id, 'KEY_CREATED', tenant.owner.id],
    ]);
    // Slugs stay unique within the account.
    const again = await t.run(
      CreateEnvironmentDocument,
      { input: { accountId: tenant.accountId, name: 'Staging EU' } },
      { token: tenant.owner.token },
    );
    expect(again.body.data!.createEnvironment.environment.slug).toBe('staging-eu-2');
  });

  it('is for owners only: members, read-only users and keys are FORBIDDEN, and nothing is written', async () => {
    const member = await tenant.user('MEMBER');
    const readOnly = await tenant.user('READ_ONLY');
    const before = await t.keygate.deps.db
      .selectFrom('environments')
      .select('id')
      .where('account_id', '=', tenant.accountId)
      .execute();
    for (const credential of [{ token: member.token }, { token: readOnly.token }, { key: tenant.dev.fullAccessKey.secret }]) {
      const { body } = await t.run(
        CreateEnvironmentDocument,
        { input: { accountId: tenant.accountId, name: 'Nope' } },
        credential,
      );
      expect(codes(body)).toEqual(['FORBIDDEN']);
      expect(body.errors![0]!.message).toContain('account:manage');
    }
    const after = await t.keygate.deps.db
      .selectFrom('environments')
      .select('id')
      .where('account_id', '=', tenant.accountId)
      .execute();
    expect(after).toHaveLength(before.length);
  });

  it('validates the name and the account', async () => {
    for (const name of ['', '   ', 'x'.repeat(101)]) {
      const { body } = await t.run(
        CreateEnvironmentDocument,
        { input: { accountId: tenant.accountId, name } },
        { token: tenant.owner.token },
      );
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message).toMatch(/^name: /);
    }
    const other = await seedTenant(t);
    const { body } = await t.run(
      CreateEnvironmentDocument,
      { input: { accountId: other.accountId, name: 'Mine now' } },
      { token: tenant.owner.token },
    );
    expect(codes(body)).toEqual(['NOT_FOUND']);
  });
});

describe('user roles can read the inventory', () => {
  it('gives owners, members and read-only users the masked key list', async () => {
    for (const role of ['OWNER', 'MEMBER', 'READ_ONLY'] as const) {
      const user = role === 'OWNER' ? tenant.owner : await tenant.user(role);
      const { body } = await t.run(ApiKeysDocument, { environmentId: tenant.dev.id }, { token: user.token });
      expect(body.errors, role).toBeUndefined();
      expect(body.data!.apiKeys.totalCount).toBeGreaterThanOrEqual(2);
      const viewer = await t.run(ViewerDocument, {}, { token: user.token });
      expect(viewer.body.data!.viewer.memberships).toEqual([expect.objectContaining({ role })]);
    }
  });
});

describeSecurityMatrix('viewer', () => t, { roles: ROLES_THAT.read, targets: 'none', call: (c) => t.run(ViewerDocument, {}, c) });
describeSecurityMatrix('permissions', () => t, {
  roles: ROLES_THAT.read,
  targets: 'none',
  call: (c) => t.run(PermissionsDocument, {}, c),
});
describeSecurityMatrix('environments', () => t, {
  roles: ROLES_THAT.read,
  targets: 'none',
  call: (c) => t.run(EnvironmentsDocument, {}, c),
});
describeSecurityMatrix('environment', () => t, {
  roles: ROLES_THAT.read,
  targets: 'environment',
  call: (c, target) => t.query('query($id: ID!) { environment(id: $id) { id name } }', { id: target.dev.id }, c),
});
describeSecurityMatrix('createEnvironment', () => t, {
  permissions: ['account:manage'],
  roles: ROLES_THAT.manage,
  targets: 'account',
  allowedCredential: async (target) => ({ token: target.owner.token }),
  call: (c, target) => t.run(CreateEnvironmentDocument, { input: { accountId: target.accountId, name: 'Matrix' } }, c),
});
