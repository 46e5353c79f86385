import { beforeAll, describe, expect, it } from 'vitest';
import {
  ApiKeyDetailDocument,
  ApiKeysDocument,
  ChangeGracePeriodDocument,
  ConnectIntegrationDocument,
  CreateScopedKeyDocument,
  RevealApiKeyDocument,
  RevokeApiKeyDocument,
  RotateApiKeyDocument,
  UpdateApiKeyDocument,
  UpdateApiKeyScopesDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { CATALOGUE_NAMES } from '../../src/modules/permission/permission.catalogue.js';
import { DAY, HOUR } from '../../src/shared/clock.js';
import { failAuditInserts } from '../harness/database.js';
import {
  type Credential,
  codes,
  seedTenant,
  setKeyColumns,
  startTestKeygate,
  type Tenant,
  type TestKeygate,
} from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate();
});

const keyCount = async (environmentId: string) =>
  Number(
    (
      await t.keygate.deps.db
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('environment_id', '=', environmentId)
        .executeTakeFirstOrThrow()
    ).n,
  );
const auditOf = async (keyId: string) =>
  (
    await t.keygate.deps.db.selectFrom('key_audit_events').select(['event']).where('key_id', '=', keyId).orderBy('id').execute()
  ).map((e) => e.event);
const permissionsOf = async (secret: string) => {
  const { status, body } = await t.run(ViewerDocument, {}, { key: secret });
  return status === 401 ? 'UNAUTHENTICATED' : body.data!.viewer.permissions;
};

describe('createScopedKey', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('creates a key that holds exactly its scope (write implies read) and returns the secret once', async () => {
    const { body } = await t.run(
      CreateScopedKeyDocument,
      {
        input: {
          environmentId: tenant.dev.id,
          name: '  Billing sync ',
          description: 'nightly job',
          scopes: ['customers:write', 'coupons:read'],
        },
      },
      { token: tenant.owner.token },
    );
    expect(body.errors).toBeUndefined();
    const { apiKey, secret } = body.data!.createScopedKey;
    expect(apiKey).toMatchObject({
      name: 'Billing sync',
      description: 'nightly job',
      type: 'SCOPED',
      category: 'SCOPED',
      status: 'ACTIVE',
      scopes: ['customers:read', 'customers:write', 'coupons:read'],
      scopesEditable: true,
      nameEditable: true,
      createdBy: { type: 'USER', id: tenant.owner.id, displayName: tenant.owner.email },
      maskedKey: `server-••••${secret.slice(-4)}`,
    });
    expect(await permissionsOf(secret)).toEqual(['customers:read', 'customers:write', 'coupons:read']);
    const detail = await t.run(ApiKeyDetailDocument, { id: apiKey.id }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey!.auditLog.edges[0]!.node).toMatchObject({
      event: 'KEY_CREATED',
      details: { scopes: apiKey.scopes },
    });
    expect(JSON.stringify(detail.body)).not.toContain(secret);
  });

  it('defaults to the calling key’s environment and records the key as actor', async () => {
    const { body } = await t.run(
      CreateScopedKeyDocument,
      { input: { name: 'child', scopes: ['coupons:read'] } },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(body.data!.createScopedKey.apiKey).toMatchObject({
      environment: { id: tenant.dev.id },
      createdBy: { type: 'API_KEY', id: tenant.dev.fullAccessKey.row.id, displayName: 'Full access key' },
    });
  });

  it('needs the SCALE plan (PLAN_UPGRADE_REQUIRED) and writes nothing otherwise', async () => {
    for (const plan of ['FREE', 'GROWTH'] as const) {
      const small = await seedTenant(t, { plan });
      const before = await keyCount(small.dev.id);
      const { body } = await t.run(
        CreateScopedKeyDocument,
        { input: { environmentId: small.dev.id, name: 'x', scopes: ['coupons:read'] } },
        { token: small.owner.token },
      );
      expect(codes(body)).toEqual(['PLAN_UPGRADE_REQUIRED']);
      expect(await keyCount(small.dev.id)).toBe(before);
    }
  });

  it('rejects bad names and scopes with BAD_USER_INPUT naming the field, writing nothing', async () => {
    const before = await keyCount(tenant.dev.id);
    const cases: [object, RegExp][] = [
      [{ name: '', scopes: ['coupons:read'] }, /^name: .*empty/],
      [{ name: 'x'.repeat(201), scopes: ['coupons:read'] }, /^name: .*100/],
      [{ name: 'x', description: 'd'.repeat(501), scopes: ['coupons:read'] }, /^description: .*500/],
      [{ name: 'x', scopes: [] }, /^scopes: .*at least one/],
      [{ name: 'x', scopes: ['coupons:read', 'rockets:launch', 'admin'] }, /^scopes: unknown permissions: rockets:launch, admin/],
      [{ name: 'x', scopes: ['coupons:read', 'coupons:read'] }, /^scopes: duplicate permission: coupons:read/],
      [{ name: 'x', scopes: ['customers:read_public'] }, /^scopes: unknown permission: customers:read_public/],
    ];
    for (const [input, message] of cases) {
      const { body } = await t.run(
        CreateScopedKeyDocument,
        { input: { environmentId: tenant.dev.id, ...input } as never },
        { token: tenant.owner.token },
      );
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message).toMatch(message);
    }
    expect(await keyCount(tenant.dev.id)).toBe(before);
  });

  it('is forbidden to members, read-only users, and keys that would mint a permission they lack', async () => {
    const member = await tenant.user('MEMBER');
    const readOnly = await tenant.user('READ_ONLY');
    const keyAdmin = await tenant.scopedKey(['api_keys:write', 'coupons:read']);
    const input = { environmentId: tenant.dev.id, name: 'x', scopes: ['customers:read'] };
    for (const credential of [{ token: member.token }, { token: readOnly.token }, { key: keyAdmin.secret }]) {
      const { body } = await t.run(CreateScopedKeyDocument, { input }, credential);
      expect(codes(body)).toEqual(['FORBIDDEN']);
    }
    const { body } = await t.run(CreateScopedKeyDocument, { input }, { key: keyAdmin.secret });
    expect(body.errors![0]!.message).toContain('customers:read');
    const allowed = await t.run(
      CreateScopedKeyDocument,
      { input: { ...input, scopes: ['coupons:read'] } },
      { key: keyAdmin.secret },
    );
    expect(allowed.body.errors).toBeUndefined();
  });
});

describe('updateApiKey', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('renames and re-describes a scoped key, recording from/to', async () => {
    const key = await tenant.scopedKey(['coupons:read'], { name: 'old' });
    const { body } = await t.run(
      UpdateApiKeyDocument,
      { input: { id: key.row.id, name: 'new', description: 'why' } },
      { token: tenant.owner.token },
    );
    expect(body.data!.updateApiKey.apiKey).toMatchObject({ name: 'new', description: 'why' });
    const detail = await t.run(ApiKeyDetailDocument, { id: key.row.id }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey!.auditLog.edges[0]!.node).toMatchObject({
      event: 'KEY_UPDATED',
      details: { name: { from: 'old', to: 'new' }, description: { from: null, to: 'why' } },
    });
  });

  it('keeps default keys’ names (IMMUTABLE_KEY) but lets owners describe them', async () => {
    const rename = await t.run(
      UpdateApiKeyDocument,
      { input: { id: tenant.dev.fullAccessKey.row.id, name: 'Mine' } },
      { token: tenant.owner.token },
    );
    expect(codes(rename.body)).toEqual(['IMMUTABLE_KEY']);
    const describe = await t.run(
      UpdateApiKeyDocument,
      { input: { id: tenant.dev.publishableKey.row.id, description: 'for the web app' } },
      { token: tenant.owner.token },
    );
    expect(describe.body.data!.updateApiKey.apiKey).toMatchObject({ name: 'Publishable key', description: 'for the web app' });
  });

  it('rejects empty and overlong names', async () => {
    const key = await tenant.scopedKey(['coupons:read']);
    for (const name of ['', ' ', 'n'.repeat(250)]) {
      const { body } = await t.run(UpdateApiKeyDocument, { input: { id: key.row.id, name } }, { token: tenant.owner.token });
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await auditOf(key.row.id)).toEqual(['KEY_CREATED']);
  });
});

describe('updateApiKeyScopes', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('takes effect on the very next request and records added/removed', async () => {
    const key = await tenant.scopedKey(['coupons:read', 'customers:read']);
    expect(await permissionsOf(key.secret)).toEqual(['customers:read', 'coupons:read']);
    const { body } = await t.run(
      UpdateApiKeyScopesDocument,
      { input: { id: key.row.id, scopes: ['customers:read', 'subscriptions:write'] } },
      { token: tenant.owner.token },
    );
    expect(body.data!.updateApiKeyScopes.apiKey.scopes).toEqual(['customers:read', 'subscriptions:read', 'subscriptions:write']);
    expect(await permissionsOf(key.secret)).toEqual(['customers:read', 'subscriptions:read', 'subscriptions:write']);
    const detail = await t.run(ApiKeyDetailDocument, { id: key.row.id }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey!.auditLog.edges[0]!.node).toMatchObject({
      event: 'SCOPE_UPDATED',
      details: { added: ['subscriptions:read', 'subscriptions:write'], removed: ['coupons:read'] },
      actor: { type: 'USER', id: tenant.owner.id },
    });
  });

  it('refuses default keys (IMMUTABLE_KEY) and bad scopes (BAD_USER_INPUT), changing nothing', async () => {
    for (const id of [tenant.dev.fullAccessKey.row.id, tenant.dev.publishableKey.row.id]) {
      const { body } = await t.run(
        UpdateApiKeyScopesDocument,
        { input: { id, scopes: ['coupons:read'] } },
        { token: tenant.owner.token },
      );
      expect(codes(body)).toEqual(['IMMUTABLE_KEY']);
    }
    const key = await tenant.scopedKey(['coupons:read']);
    for (const scopes of [[], ['nope:read'], ['coupons:read', 'coupons:read']]) {
      const { body } = await t.run(
        UpdateApiKeyScopesDocument,
        { input: { id: key.row.id, scopes } },
        { token: tenant.owner.token },
      );
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await permissionsOf(key.secret)).toEqual(['coupons:read']);
    expect(await auditOf(key.row.id)).toEqual(['KEY_CREATED']);
  });

  it('lets a key re-scope only within its own scope', async () => {
    const admin = await tenant.scopedKey(['api_keys:write', 'coupons:write']);
    const target = await tenant.scopedKey(['coupons:read']);
    const grow = await t.run(
      UpdateApiKeyScopesDocument,
      { input: { id: target.row.id, scopes: ['customers:read'] } },
      { key: admin.secret },
    );
    expect(codes(grow.body)).toEqual(['FORBIDDEN']);
    expect(grow.body.errors![0]!.message).toContain('customers:read');
    const ok = await t.run(
      UpdateApiKeyScopesDocument,
      { input: { id: target.row.id, scopes: ['coupons:write'] } },
      { key: admin.secret },
    );
    expect(ok.body.errors).toBeUndefined();
  });
});

describe('rotateApiKey', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });
  const rotate = (id: string, expireOldKeyIn: any, credential: Credential = { token: tenant.owner.token }) =>
    t.run(RotateApiKeyDocument, { input: { id, expireOldKeyIn } }, credential);

  it('issues a twin key and keeps the old one for the grace period', async () => {
    const old = await tenant.scopedKey(['coupons:read', 'customers:write'], { name: 'worker' });
    await t.run(UpdateApiKeyDocument, { input: { id: old.row.id, description: 'd' } }, { token: tenant.owner.token });
    const { body } = await rotate(old.row.id, 'ONE_HOUR');
    expect(body.errors).toBeUndefined();
    const { apiKey, previousKey, secret } = body.data!.rotateApiKey;
    expect(apiKey).toMatchObject({
      name: 'worker',
      description: 'd',
      type: 'SCOPED',
      scopes: previousKey.scopes,
      status: 'ACTIVE',
    });
    expect(previousKey).toMatchObject({
      id: old.row.id,
      status: 'EXPIRING_SOON',
      expiresAt: new Date(t.clock.now().getTime() + HOUR).toISOString(),
    });
    expect(secret).not.toBe(old.secret);

    const detail = await t.run(ApiKeyDetailDocument, { id: apiKey.id }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey).toMatchObject({ rotatedFrom: { id: old.row.id, status: 'EXPIRING_SOON' }, rotatedTo: null });
    const oldDetail = await t.run(ApiKeyDetailDocument, { id: old.row.id }, { token: tenant.owner.token });
    expect(oldDetail.body.data!.apiKey!.rotatedTo).toEqual({ id: apiKey.id, status: 'ACTIVE' });
    expect(oldDetail.body.data!.apiKey!.auditLog.edges[0]!.node).toMatchObject({
      event: 'KEY_ROTATED',
      details: { rotatedTo: apiKey.id, gracePeriod: 'ONE_HOUR', oldKeyExpiresAt: previousKey.expiresAt, previousExpiresAt: null },
    });

    expect(await permissionsOf(old.secret)).toEqual(['customers:read', 'customers:write', 'coupons:read']);
    expect(await permissionsOf(secret)).toEqual(['customers:read', 'customers:write', 'coupons:read']);
    t.clock.advance(HOUR);
    try {
      expect(await permissionsOf(old.secret)).toBe('UNAUTHENTICATED');
      expect(await permissionsOf(secret)).not.toBe('UNAUTHENTICATED');
    } finally {
      t.clock.advance(-HOUR);
    }
  });

  it('with NOW fails the old key on the very next request', async () => {
    const old = await tenant.scopedKey(['coupons:read']);
    const { body } = await rotate(old.row.id, 'NOW');
    expect(body.data!.rotateApiKey.previousKey.status).toBe('EXPIRED');
    expect(await permissionsOf(old.secret)).toBe('UNAUTHENTICATED');
    expect(await permissionsOf(body.data!.rotateApiKey.secret)).toEqual(['coupons:read']);
  });

  it('sets expiry to now + grace for every period', async () => {
    const periods = { ONE_HOUR: HOUR, ONE_DAY: DAY, THREE_DAYS: 3 * DAY, SEVEN_DAYS: 7 * DAY } as const;
    for (const [grace, ms] of Object.entries(periods)) {
      const old = await tenant.scopedKey(['coupons:read']);
      const { body } = await rotate(old.row.id, grace);
      expect(body.data!.rotateApiKey.previousKey).toMatchObject({
        status: 'EXPIRING_SOON',
        expiresAt: new Date(t.clock.now().getTime() + ms).toISOString(),
      });
    }
  });

  it('keeps an earlier existing expiry', async () => {
    const old = await tenant.scopedKey(['coupons:read']);
    const earlier = new Date(t.clock.now().getTime() + 2 * HOUR).toISOString();
    await setKeyColumns(t, old.row.id, { expires_at: earlier });
    const { body } = await rotate(old.row.id, 'SEVEN_DAYS');
    expect(body.data!.rotateApiKey.previousKey.expiresAt).toBe(earlier);
  });

  it('is a CONFLICT for an already rotated or expired key, and creates nothing', async () => {
    const old = await tenant.scopedKey(['coupons:read']);
    await rotate(old.row.id, 'ONE_DAY');
    const before = await keyCount(tenant.dev.id);
    expect(codes((await rotate(old.row.id, 'ONE_DAY')).body)).toEqual(['CONFLICT']);
    const revoked = await tenant.scopedKey(['coupons:read']);
    await t.run(RevokeApiKeyDocument, { input: { id: revoked.row.id } }, { token: tenant.owner.token });
    expect(codes((await rotate(revoked.row.id, 'NOW')).body)).toEqual(['CONFLICT']);
    expect(await keyCount(tenant.dev.id)).toBe(before + 1);
  });

  it('keeps one active full access key and one active publishable key per environment', async () => {
    const own = await seedTenant(t);
    const full = await rotate(own.dev.fullAccessKey.row.id, 'ONE_DAY', { token: own.owner.token });
    const pub = await rotate(own.dev.publishableKey.row.id, 'NOW', { token: own.owner.token });
    expect(full.body.data!.rotateApiKey.apiKey).toMatchObject({ type: 'FULL_ACCESS', name: 'Full access key', status: 'ACTIVE' });
    expect(pub.body.data!.rotateApiKey.secret).toMatch(/^client-/);
    const { body } = await t.run(
      ApiKeysDocument,
      { environmentId: own.dev.id, filter: { statuses: ['ACTIVE'] } },
      { token: own.owner.token },
    );
    expect(body.data!.apiKeys.edges.map((e) => e.node.type).sort()).toEqual(['FULL_ACCESS', 'PUBLISHABLE']);
    expect(await permissionsOf(full.body.data!.rotateApiKey.secret)).toHaveLength(CATALOGUE_NAMES.length);
    expect(await permissionsOf(own.dev.publishableKey.secret)).toBe('UNAUTHENTICATED');
  });

  it('never lets an API key rotate the full access key, even itself', async () => {
    const own = await seedTenant(t);
    const { body } = await rotate(own.dev.fullAccessKey.row.id, 'NOW', { key: own.dev.fullAccessKey.secret });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(await permissionsOf(own.dev.fullAccessKey.secret)).toHaveLength(CATALOGUE_NAMES.length);
  });

  it('serialises 20 simultaneous rotations of one key: one new key, 19 CONFLICTs', async () => {
    const old = await tenant.scopedKey(['coupons:read']);
    const before = await keyCount(tenant.dev.id);
    const results = await Promise.all(Array.from({ length: 20 }, () => rotate(old.row.id, 'ONE_HOUR')));
    const outcomes = results.map((r) => (r.body.errors ? codes(r.body)[0] : 'OK'));
    expect(outcomes.filter((o) => o === 'OK')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'CONFLICT')).toHaveLength(19);
    expect(await keyCount(tenant.dev.id)).toBe(before + 1);
    expect((await auditOf(old.row.id)).filter((e) => e === 'KEY_ROTATED')).toHaveLength(1);
  });
});

describe('a rotated key (SPEC §3: rotation answers a leak)', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  /** A key holding api_keys:write that its owner rotated with a one-day grace period. */
  async function rotatedManager() {
    const old = await tenant.scopedKey(['api_keys:write', 'customers:read', 'activity:read']);
    const { body } = await t.run(
      RotateApiKeyDocument,
      { input: { id: old.row.id, expireOldKeyIn: 'ONE_DAY' } },
      { token: tenant.owner.token },
    );
    expect(body.errors).toBeUndefined();
    return { old, successor: body.data!.rotateApiKey };
  }

  it('keeps its resource permissions until it expires', async () => {
    const { old } = await rotatedManager();
    const { body } = await t.query(
      '{ customers(first: 1) { totalCount } activity(first: 1) { totalCount } }',
      {},
      { key: old.secret },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data?.customers.totalCount).toBeGreaterThanOrEqual(0);
  });

  it('cannot change its own grace period, however often it asks', async () => {
    const { old } = await rotatedManager();
    for (const expireIn of ['SEVEN_DAYS', 'THREE_DAYS'] as const) {
      const { body } = await t.run(ChangeGracePeriodDocument, { input: { id: old.row.id, expireIn } }, { key: old.secret });
      expect(codes(body)).toEqual(['FORBIDDEN']);
      expect(body.errors![0]!.message).toContain('api_keys:write');
    }
    const audit = await auditOf(old.row.id);
    expect(audit).not.toContain('GRACE_PERIOD_CHANGED');
    const { body } = await t.run(ApiKeyDetailDocument, { id: old.row.id }, { token: tenant.owner.token });
    expect(body.data!.apiKey!.expiresAt).toBe(new Date(t.clock.now().getTime() + DAY).toISOString());
  });

  it('cannot reveal its successor’s secret through viewer.apiKey.rotatedTo', async () => {
    const { old, successor } = await rotatedManager();
    const { body } = await t.query('{ viewer { apiKey { rotatedTo { id secret } } } }', {}, { key: old.secret });
    expect(body.data?.viewer.apiKey.rotatedTo).toEqual({ id: successor.apiKey.id, secret: null });
    expect(codes(body)).toContain('FORBIDDEN');
    expect(JSON.stringify(body)).not.toContain(successor.secret);
    expect(await auditOf(successor.apiKey.id)).not.toContain('KEY_REVEALED');
  });

  it('manages no key at all: create, rotate, re-scope, edit and revoke are FORBIDDEN; its successor still can', async () => {
    const { old, successor } = await rotatedManager();
    const victim = await tenant.scopedKey(['customers:read']);
    const attempts = [
      t.run(CreateScopedKeyDocument, { input: { name: 'escape', scopes: ['customers:read'] } }, { key: old.secret }),
      t.run(RotateApiKeyDocument, { input: { id: victim.row.id, expireOldKeyIn: 'NOW' } }, { key: old.secret }),
      t.run(UpdateApiKeyScopesDocument, { input: { id: victim.row.id, scopes: ['customers:read'] } }, { key: old.secret }),
      t.run(UpdateApiKeyDocument, { input: { id: victim.row.id, description: 'mine now' } }, { key: old.secret }),
      t.run(RevokeApiKeyDocument, { input: { id: victim.row.id } }, { key: old.secret }),
      t.run(RevealApiKeyDocument, { id: victim.row.id }, { key: old.secret }),
    ];
    for (const { body } of await Promise.all(attempts)) expect(codes(body)).toContain('FORBIDDEN');
    expect(await auditOf(victim.row.id)).toEqual(['KEY_CREATED']);
    expect(await permissionsOf(old.secret)).not.toContain('api_keys:write');
    expect(await permissionsOf(successor.secret)).toContain('api_keys:write');
    const { body } = await t.run(RevokeApiKeyDocument, { input: { id: victim.row.id } }, { key: successor.secret });
    expect(body.errors).toBeUndefined();
  });
});

describe('changeGracePeriod', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('moves the expiry of an expiring key to now + period, recording old and new', async () => {
    const old = await tenant.scopedKey(['coupons:read']);
    await t.run(RotateApiKeyDocument, { input: { id: old.row.id, expireOldKeyIn: 'ONE_HOUR' } }, { token: tenant.owner.token });
    t.clock.advance(30 * 60_000);
    try {
      const { body } = await t.run(
        ChangeGracePeriodDocument,
        { input: { id: old.row.id, expireIn: 'THREE_DAYS' } },
        { token: tenant.owner.token },
      );
      const expected = new Date(t.clock.now().getTime() + 3 * DAY).toISOString();
      expect(body.data!.changeGracePeriod.apiKey).toMatchObject({ status: 'EXPIRING_SOON', expiresAt: expected });
      const detail = await t.run(ApiKeyDetailDocument, { id: old.row.id }, { token: tenant.owner.token });
      expect(detail.body.data!.apiKey!.auditLog.edges[0]!.node).toMatchObject({
        event: 'GRACE_PERIOD_CHANGED',
        details: { gracePeriod: 'THREE_DAYS', expiresAt: expected },
      });
      const now = await t.run(
        ChangeGracePeriodDocument,
        { input: { id: old.row.id, expireIn: 'NOW' } },
        { token: tenant.owner.token },
      );
      expect(now.body.data!.changeGracePeriod.apiKey.status).toBe('EXPIRED');
      expect(await permissionsOf(old.secret)).toBe('UNAUTHENTICATED');
    } finally {
      t.clock.advance(-30 * 60_000);
    }
  });

  it('is a CONFLICT on an active or expired key', async () => {
    const active = await tenant.scopedKey(['coupons:read']);
    const { body } = await t.run(
      ChangeGracePeriodDocument,
      { input: { id: active.row.id, expireIn: 'ONE_DAY' } },
      { token: tenant.owner.token },
    );
    expect(codes(body)).toEqual(['CONFLICT']);
    expect(body.errors![0]!.message).toContain('ACTIVE');
    await t.run(RevokeApiKeyDocument, { input: { id: active.row.id } }, { token: tenant.owner.token });
    const expired = await t.run(
      ChangeGracePeriodDocument,
      { input: { id: active.row.id, expireIn: 'ONE_DAY' } },
      { token: tenant.owner.token },
    );
    expect(codes(expired.body)).toEqual(['CONFLICT']);
    expect(await auditOf(active.row.id)).toEqual(['KEY_CREATED', 'KEY_REVOKED']);
  });
});

describe('revokeApiKey', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('revokes a scoped key at once and irreversibly', async () => {
    const key = await tenant.scopedKey(['coupons:read']);
    const { body } = await t.run(RevokeApiKeyDocument, { input: { id: key.row.id } }, { token: tenant.owner.token });
    expect(body.data!.revokeApiKey.apiKey).toMatchObject({ status: 'EXPIRED', revokedAt: t.clock.now().toISOString() });
    expect(await permissionsOf(key.secret)).toBe('UNAUTHENTICATED');
    expect(codes((await t.run(RevokeApiKeyDocument, { input: { id: key.row.id } }, { token: tenant.owner.token })).body)).toEqual(
      ['CONFLICT'],
    );
  });

  it('refuses default keys with IMMUTABLE_KEY', async () => {
    for (const id of [tenant.dev.fullAccessKey.row.id, tenant.dev.publishableKey.row.id]) {
      const { body } = await t.run(RevokeApiKeyDocument, { input: { id } }, { token: tenant.owner.token });
      expect(codes(body)).toEqual(['IMMUTABLE_KEY']);
    }
    expect(await permissionsOf(tenant.dev.fullAccessKey.secret)).toHaveLength(CATALOGUE_NAMES.length);
  });
});

describe('immutable keys, whoever asks', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('answers IMMUTABLE_KEY to re-scoping, renaming or revoking default and integration keys, for the full access key and scoped keys as for owners', async () => {
    const { body: connected } = await t.run(
      ConnectIntegrationDocument,
      { input: { type: 'ZAPIER' } },
      { key: tenant.dev.fullAccessKey.secret },
    );
    const integrationKeyId = connected.data!.connectIntegration.integration.apiKey!.id;
    const manager = await tenant.scopedKey(['api_keys:write', 'customers:write', 'subscriptions:write', 'coupons:write']);
    const targets = [tenant.dev.fullAccessKey.row.id, tenant.dev.publishableKey.row.id, integrationKeyId];
    const callers: Credential[] = [
      { key: tenant.dev.fullAccessKey.secret },
      { key: manager.secret },
      { token: tenant.owner.token },
    ];
    for (const caller of callers) {
      for (const id of targets) {
        const attempts = {
          rescope: await t.run(UpdateApiKeyScopesDocument, { input: { id, scopes: ['customers:read'] } }, caller),
          rename: await t.run(UpdateApiKeyDocument, { input: { id, name: 'Renamed' } }, caller),
          revoke: await t.run(RevokeApiKeyDocument, { input: { id } }, caller),
        };
        for (const [what, { body }] of Object.entries(attempts)) expect(codes(body), `${what} ${id}`).toEqual(['IMMUTABLE_KEY']);
      }
    }
    expect(await permissionsOf(tenant.dev.fullAccessKey.secret)).toHaveLength(CATALOGUE_NAMES.length);
  });

  it('answers FORBIDDEN naming api_keys:write to a caller who may not manage keys at all', async () => {
    const reader = await tenant.scopedKey(['api_keys:read']);
    const { body } = await t.run(
      RevokeApiKeyDocument,
      { input: { id: tenant.dev.fullAccessKey.row.id } },
      { key: reader.secret },
    );
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.message).toContain('api_keys:write');
  });

  it('names the missing permissions when a scoped key may not rotate the full access key', async () => {
    const manager = await tenant.scopedKey(['api_keys:write']);
    const { body } = await t.run(
      RotateApiKeyDocument,
      { input: { id: tenant.dev.fullAccessKey.row.id, expireOldKeyIn: 'NOW' } },
      { key: manager.secret },
    );
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.message).toMatch(/Missing permission: .*customers:write/);
    expect(body.errors![0]!.extensions!.requiredPermissions).toEqual(
      expect.arrayContaining(['customers:write', 'coupons:write']),
    );
  });
});

describe('reveal (ApiKey.secret)', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('shows owners the secret and records KEY_REVEALED with the actor', async () => {
    const { body } = await t.run(RevealApiKeyDocument, { id: tenant.dev.fullAccessKey.row.id }, { token: tenant.owner.token });
    expect(body.data!.apiKey).toEqual({
      id: tenant.dev.fullAccessKey.row.id,
      maskedKey: expect.any(String),
      secret: tenant.dev.fullAccessKey.secret,
    });
    const detail = await t.run(ApiKeyDetailDocument, { id: tenant.dev.fullAccessKey.row.id }, { token: tenant.owner.token });
    expect(detail.body.data!.apiKey!.auditLog.edges[0]!.node).toMatchObject({
      event: 'KEY_REVEALED',
      actor: { type: 'USER', id: tenant.owner.id },
      details: null,
    });
  });

  it('gives members and read-only users null with FORBIDDEN on that field only', async () => {
    for (const role of ['MEMBER', 'READ_ONLY'] as const) {
      const user = await tenant.user(role);
      const { body } = await t.run(RevealApiKeyDocument, { id: tenant.dev.publishableKey.row.id }, { token: user.token });
      expect(body.data!.apiKey).toEqual({
        id: tenant.dev.publishableKey.row.id,
        maskedKey: expect.stringMatching(/^client-••••/),
        secret: null,
      });
      expect(codes(body)).toEqual(['FORBIDDEN']);
      expect(body.errors![0]!.path).toEqual(['apiKey', 'secret']);
    }
    expect((await auditOf(tenant.dev.publishableKey.row.id)).filter((e) => e === 'KEY_REVEALED')).toHaveLength(0);
  });

  it('lets a key reveal only keys within its scope, never the full access key', async () => {
    const admin = await tenant.scopedKey(['api_keys:write', 'coupons:write']);
    const narrow = await tenant.scopedKey(['coupons:read']);
    const wide = await tenant.scopedKey(['customers:read']);
    const ok = await t.run(RevealApiKeyDocument, { id: narrow.row.id }, { key: admin.secret });
    expect(ok.body.data!.apiKey!.secret).toBe(narrow.secret);
    for (const id of [wide.row.id, tenant.dev.fullAccessKey.row.id]) {
      const { body } = await t.run(RevealApiKeyDocument, { id }, { key: admin.secret });
      expect(body.data!.apiKey!.secret).toBeNull();
      expect(codes(body)).toEqual(['FORBIDDEN']);
    }
    const full = await t.run(
      RevealApiKeyDocument,
      { id: tenant.dev.fullAccessKey.row.id },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(codes(full.body)).toEqual(['FORBIDDEN']);
  });
});

describe('a key’s audit log tells its whole story', () => {
  it('lists create, update, re-scope, reveal and rotation newest first, paginated, with actors', async () => {
    const tenant = await seedTenant(t);
    const owner = { token: tenant.owner.token };
    const created = await t.run(
      CreateScopedKeyDocument,
      { input: { environmentId: tenant.dev.id, name: 'story', scopes: ['coupons:read'] } },
      owner,
    );
    const id = created.body.data!.createScopedKey.apiKey.id;
    await t.run(UpdateApiKeyDocument, { input: { id, name: 'story 2' } }, owner);
    await t.run(
      UpdateApiKeyScopesDocument,
      { input: { id, scopes: ['coupons:write'] } },
      { key: tenant.dev.fullAccessKey.secret },
    );
    await t.run(RevealApiKeyDocument, { id }, owner);
    await t.run(RotateApiKeyDocument, { input: { id, expireOldKeyIn: 'ONE_DAY' } }, owner);
    const page1 = await t.run(ApiKeyDetailDocument, { id, first: 3 }, owner);
    const log1 = page1.body.data!.apiKey!.auditLog;
    expect(log1.totalCount).toBe(5);
    expect(log1.edges.map((e) => e.node.event)).toEqual(['KEY_ROTATED', 'KEY_REVEALED', 'SCOPE_UPDATED']);
    expect(log1.edges[2]!.node.actor).toEqual({
      type: 'API_KEY',
      id: tenant.dev.fullAccessKey.row.id,
      displayName: 'Full access key',
    });
    const page2 = await t.run(ApiKeyDetailDocument, { id, first: 3, after: log1.pageInfo.endCursor }, owner);
    expect(page2.body.data!.apiKey!.auditLog.edges.map((e) => e.node.event)).toEqual(['KEY_UPDATED', 'KEY_CREATED']);
    expect(page2.body.data!.apiKey!.auditLog.pageInfo.hasNextPage).toBe(false);
  });
});

describe('status follows the clock', () => {
  it('walks ACTIVE → EXPIRING_SOON → EXPIRED, authenticating until the last instant', async () => {
    const tenant = await seedTenant(t);
    const key = await tenant.scopedKey(['coupons:read']);
    // The full access key, not a session: session tokens expire while the clock moves a day.
    const status = async () =>
      (await t.run(ApiKeyDetailDocument, { id: key.row.id }, { key: tenant.dev.fullAccessKey.secret })).body.data!.apiKey!.status;
    expect(await status()).toBe('ACTIVE');
    expect(await permissionsOf(key.secret)).toEqual(['coupons:read']);
    await t.run(RotateApiKeyDocument, { input: { id: key.row.id, expireOldKeyIn: 'ONE_DAY' } }, { token: tenant.owner.token });
    const start = t.clock.now().getTime();
    try {
      expect(await status()).toBe('EXPIRING_SOON');
      t.clock.set(new Date(start + DAY - 1));
      expect(await status()).toBe('EXPIRING_SOON');
      expect(await permissionsOf(key.secret)).toEqual(['coupons:read']);
      t.clock.set(new Date(start + DAY));
      expect(await status()).toBe('EXPIRED');
      expect(await permissionsOf(key.secret)).toBe('UNAUTHENTICATED');
    } finally {
      t.clock.set(new Date(start));
    }
  });
});

const lifecycleMatrix = (name: string, call: (c: Credential, target: Tenant) => Promise<any>) =>
  describeSecurityMatrix(name, () => t, {
    permissions: ['api_keys:write'],
    roles: ROLES_THAT.manage,
    targets: 'environment',
    call,
  });

lifecycleMatrix('createScopedKey', (c, target) =>
  t.run(CreateScopedKeyDocument, { input: { environmentId: target.dev.id, name: 'm', scopes: ['api_keys:read'] } }, c),
);
lifecycleMatrix('updateApiKey', async (c, target) =>
  t.run(UpdateApiKeyDocument, { input: { id: (await target.scopedKey(['api_keys:read'])).row.id, name: 'renamed' } }, c),
);
lifecycleMatrix('updateApiKeyScopes', async (c, target) =>
  t.run(
    UpdateApiKeyScopesDocument,
    { input: { id: (await target.scopedKey(['api_keys:read'])).row.id, scopes: ['api_keys:write'] } },
    c,
  ),
);
lifecycleMatrix('rotateApiKey', async (c, target) =>
  t.run(
    RotateApiKeyDocument,
    { input: { id: (await target.scopedKey(['api_keys:read'])).row.id, expireOldKeyIn: 'ONE_HOUR' } },
    c,
  ),
);
lifecycleMatrix('changeGracePeriod', async (c, target) => {
  const key = await target.scopedKey(['api_keys:read']);
  await t.run(RotateApiKeyDocument, { input: { id: key.row.id, expireOldKeyIn: 'ONE_DAY' } }, { token: target.owner.token });
  return t.run(ChangeGracePeriodDocument, { input: { id: key.row.id, expireIn: 'ONE_HOUR' } }, c);
});
lifecycleMatrix('revokeApiKey', async (c, target) =>
  t.run(RevokeApiKeyDocument, { input: { id: (await target.scopedKey(['api_keys:read'])).row.id } }, c),
);

describe('atomicity', () => {
  it('leaves key and audit log untouched when the audit write fails, answering INTERNAL with a request id', async () => {
    const tenant = await seedTenant(t);
    const key = await tenant.scopedKey(['coupons:read']);
    const before = await keyCount(tenant.dev.id);
    // A database-side failure of exactly the rotation's audit insert.
    const lift = await failAuditInserts(t.keygate.deps.db, 'KEY_ROTATED');
    try {
      const { body } = await t.run(
        RotateApiKeyDocument,
        { input: { id: key.row.id, expireOldKeyIn: 'ONE_HOUR' } },
        { token: tenant.owner.token },
      );
      expect(codes(body)).toEqual(['INTERNAL']);
      const requestId = body.errors![0]!.extensions!.requestId as string;
      expect(body.errors![0]!.message).toBe(`Internal error. Request id: ${requestId}`);
      expect(JSON.stringify(body)).not.toMatch(/audit storage|insert|sqlite|postgres|trigger/i);
    } finally {
      await lift();
    }
    expect(await keyCount(tenant.dev.id)).toBe(before);
    expect(await auditOf(key.row.id)).toEqual(['KEY_CREATED']);
    expect(await permissionsOf(key.secret)).toEqual(['coupons:read']);
    const row = await t.keygate.deps.db.selectFrom('api_keys').selectAll().where('id', '=', key.row.id).executeTakeFirstOrThrow();
    expect([row.rotated_to_id, row.expires_at]).toEqual([null, null]);
  });
});
