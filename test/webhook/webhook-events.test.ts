import { beforeAll, describe, expect, it } from 'vitest';
import {
  ActivityDocument,
  ChangeGracePeriodDocument,
  ConnectIntegrationDocument,
  CreateScopedKeyDocument,
  DisconnectIntegrationDocument,
  type GracePeriod,
  RevealApiKeyDocument,
  RevokeApiKeyDocument,
  RotateApiKeyDocument,
  UpdateApiKeyDocument,
  UpdateApiKeyScopesDocument,
  UpdateWebhookEndpointDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { DAY, HOUR } from '../../src/shared/clock.js';
import { failAuditInserts, refuseInserts } from '../harness/database.js';
import { capturedLogs, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { createEndpoint, deliveriesOf, outboxOf, outboxTypes } from './webhook.fixture.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate({ webhookAllowPrivate: true });
});

const asOwner = (tenant: Tenant) => ({ token: tenant.owner.token });
const ownerActor = (tenant: Tenant) => ({ type: 'USER', id: tenant.owner.id, displayName: tenant.owner.email });

async function createKey(tenant: Tenant, scopes = ['customers:read'], name = 'Billing sync') {
  const { body } = await t.run(
    CreateScopedKeyDocument,
    { input: { environmentId: tenant.dev.id, name, scopes } },
    asOwner(tenant),
  );
  expect(body.errors).toBeUndefined();
  return body.data!.createScopedKey;
}

async function rotate(tenant: Tenant, id: string, expireOldKeyIn: GracePeriod) {
  const { body } = await t.run(RotateApiKeyDocument, { input: { id, expireOldKeyIn } }, asOwner(tenant));
  expect(body.errors).toBeUndefined();
  return body.data!.rotateApiKey;
}

/** Events written since `from` (an index into the environment's outbox). */
const since = async (tenant: Tenant, from: number) => (await outboxOf(t, tenant.dev.id)).slice(from);
const outboxLength = async (tenant: Tenant) => (await outboxOf(t, tenant.dev.id)).length;

describe('who receives an event', () => {
  it("queues one PENDING delivery to each enabled endpoint of the environment that takes the event's type", async () => {
    const tenant = await seedTenant(t);
    const all = await createEndpoint(t, tenant);
    const created = await createEndpoint(t, tenant, { eventTypes: ['API_KEY_CREATED'] });
    const revoked = await createEndpoint(t, tenant, { eventTypes: ['API_KEY_REVOKED'] });
    const disabled = await createEndpoint(t, tenant);
    await t.run(UpdateWebhookEndpointDocument, { input: { id: disabled.endpoint.id, enabled: false } }, asOwner(tenant));
    const production = await createEndpoint(t, tenant, { environmentId: tenant.prod.id });

    const key = await createKey(tenant);
    const now = t.clock.now().toISOString();
    const [event] = await outboxOf(t, tenant.dev.id);
    expect(event!.type).toBe('api_key.created');
    for (const { endpoint } of [all, created]) {
      const deliveries = await deliveriesOf(t, tenant, endpoint.id);
      expect(deliveries).toEqual([
        {
          id: expect.stringMatching(/^whd_/),
          eventId: event!.id,
          eventType: 'API_KEY_CREATED',
          payload: event!.body,
          status: 'PENDING',
          attempts: 0,
          lastAttemptAt: null,
          lastResponseStatus: null,
          nextAttemptAt: now,
          createdAt: now,
        },
      ]);
    }
    for (const { endpoint } of [revoked, disabled]) expect(await deliveriesOf(t, tenant, endpoint.id)).toEqual([]);
    expect(await deliveriesOf(t, tenant, production.endpoint.id, tenant.prod.id)).toEqual([]);
    expect(await outboxOf(t, tenant.prod.id)).toEqual([]);
    expect(JSON.stringify(event!.body)).not.toContain(key.secret);
  });
});

describe('the events of key changes', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    await createEndpoint(t, tenant);
  });

  it('api_key.created: the key (masked), no rotation, and the actor; never the secret or its digest', async () => {
    const from = await outboxLength(tenant);
    const { apiKey, secret } = await createKey(tenant, ['customers:write'], 'Created');
    const events = await since(tenant, from);
    expect(events.map((e) => e.type)).toEqual(['api_key.created']);
    expect(events[0]!.body).toEqual({
      type: 'api_key.created',
      timestamp: t.clock.now().toISOString(),
      data: {
        environmentId: tenant.dev.id,
        apiKey: {
          id: apiKey.id,
          name: 'Created',
          type: 'SCOPED',
          maskedKey: `server-••••${secret.slice(-4)}`,
          status: 'ACTIVE',
          expiresAt: null,
          lastUsedAt: null,
        },
        rotatedTo: null,
        rotatedFrom: null,
        actor: ownerActor(tenant),
      },
    });
    const row = await t.keygate.deps.db
      .selectFrom('api_keys')
      .select(['digest', 'secret_encrypted'])
      .where('id', '=', apiKey.id)
      .executeTakeFirstOrThrow();
    for (const forbidden of [secret, secret.slice(7), row.digest, row.secret_encrypted]) {
      expect(events[0]!.payload).not.toContain(forbidden);
    }
  });

  it('api_key.rotated (ONE_DAY): the old key expiring, the new one as rotatedTo, and the 24 h notice at once; no api_key.created', async () => {
    const { apiKey } = await createKey(tenant, ['coupons:read'], 'Rotated daily');
    const from = await outboxLength(tenant);
    const { apiKey: next, previousKey, secret } = await rotate(tenant, apiKey.id, 'ONE_DAY');
    const now = t.clock.now();
    const expiresAt = new Date(now.getTime() + DAY).toISOString();
    const events = await since(tenant, from);
    expect(events.map((e) => e.type)).toEqual(['api_key.rotated', 'api_key.expiring']);
    const [rotated, expiring] = events as [(typeof events)[0], (typeof events)[0]];
    expect(rotated.body.data).toEqual({
      environmentId: tenant.dev.id,
      apiKey: {
        id: apiKey.id,
        name: 'Rotated daily',
        type: 'SCOPED',
        maskedKey: apiKey.maskedKey,
        status: 'EXPIRING_SOON',
        expiresAt,
        lastUsedAt: null,
      },
      rotatedTo: {
        id: next.id,
        name: 'Rotated daily',
        type: 'SCOPED',
        maskedKey: next.maskedKey,
        status: 'ACTIVE',
        expiresAt: null,
        lastUsedAt: null,
      },
      rotatedFrom: null,
      actor: ownerActor(tenant),
    });
    expect(previousKey!.expiresAt).toBe(expiresAt);
    expect(expiring.body).toEqual({
      type: 'api_key.expiring',
      timestamp: now.toISOString(),
      data: { ...rotated.body.data, inUse: false, window: '24h' },
    });
    expect(expiring.dedupe_key).toBe(`api_key.expiring:24h:${apiKey.id}:${expiresAt}`);
    expect(rotated.dedupe_key).toBeNull();
    for (const event of events) expect(event.payload).not.toContain(secret);
  });

  it('ONE_HOUR sends only the 1 h notice at once; NOW sends api_key.expired at once and no expiring notice; THREE_DAYS neither', async () => {
    const cases: [GracePeriod, string[], string | null][] = [
      ['ONE_HOUR', ['api_key.rotated', 'api_key.expiring'], '1h'],
      ['NOW', ['api_key.rotated', 'api_key.expired'], null],
      ['THREE_DAYS', ['api_key.rotated'], null],
    ];
    for (const [grace, types, window] of cases) {
      const { apiKey } = await createKey(tenant, ['coupons:read'], `Rotated ${grace}`);
      const from = await outboxLength(tenant);
      const { previousKey } = await rotate(tenant, apiKey.id, grace);
      const events = await since(tenant, from);
      expect(
        events.map((e) => e.type),
        grace,
      ).toEqual(types);
      const notice = events[1];
      if (!notice) continue;
      expect(notice.body.data.window, grace).toBe(window);
      expect(notice.body.data.apiKey.status).toBe(grace === 'NOW' ? 'EXPIRED' : 'EXPIRING_SOON');
      expect(notice.dedupe_key).toBe(
        grace === 'NOW'
          ? `api_key.expired:${apiKey.id}:${previousKey!.expiresAt}`
          : `api_key.expiring:1h:${apiKey.id}:${previousKey!.expiresAt}`,
      );
    }
  });

  it('names a key still in use: inUse is true when the old key authenticated in the last 15 minutes', async () => {
    const { apiKey, secret } = await createKey(tenant, ['coupons:read'], 'Busy');
    expect((await t.run(ViewerDocument, {}, { key: secret })).status).toBe(200);
    await t.keygate.deps.keyUsage.flush();
    const usedAt = t.clock.now().toISOString();
    t.clock.advance(14 * 60_000);
    const from = await outboxLength(tenant);
    await rotate(tenant, apiKey.id, 'ONE_HOUR');
    const [, expiring] = await since(tenant, from);
    expect(expiring!.body.data).toMatchObject({ inUse: true, apiKey: { id: apiKey.id, lastUsedAt: usedAt } });
  });

  it('changeGracePeriod into a window sends that window’s notice at once, for the new expiry', async () => {
    const { apiKey } = await createKey(tenant, ['coupons:read'], 'Grace');
    await rotate(tenant, apiKey.id, 'THREE_DAYS');
    const from = await outboxLength(tenant);
    const { body } = await t.run(ChangeGracePeriodDocument, { input: { id: apiKey.id, expireIn: 'ONE_HOUR' } }, asOwner(tenant));
    const expiresAt = body.data!.changeGracePeriod.apiKey.expiresAt;
    expect(expiresAt).toBe(new Date(t.clock.now().getTime() + HOUR).toISOString());
    const events = await since(tenant, from);
    expect(events.map((e) => [e.type, e.dedupe_key])).toEqual([
      ['api_key.expiring', `api_key.expiring:1h:${apiKey.id}:${expiresAt}`],
    ]);
  });

  it('api_key.scopes_updated: what was added and removed, and the scope now', async () => {
    const { apiKey } = await createKey(tenant, ['customers:read', 'coupons:read'], 'Rescoped');
    const from = await outboxLength(tenant);
    await t.run(
      UpdateApiKeyScopesDocument,
      { input: { id: apiKey.id, scopes: ['customers:read', 'subscriptions:read'] } },
      asOwner(tenant),
    );
    const events = await since(tenant, from);
    expect(events.map((e) => e.type)).toEqual(['api_key.scopes_updated']);
    expect(events[0]!.body.data.scopes).toEqual({
      added: ['subscriptions:read'],
      removed: ['coupons:read'],
      current: ['customers:read', 'subscriptions:read'],
    });
  });

  it('api_key.revoked, with the key EXPIRED; a revoked key gets no api_key.expired later', async () => {
    const { apiKey } = await createKey(tenant, ['customers:read'], 'Revoked');
    const from = await outboxLength(tenant);
    await t.run(RevokeApiKeyDocument, { input: { id: apiKey.id } }, asOwner(tenant));
    const events = await since(tenant, from);
    expect(events.map((e) => e.type)).toEqual(['api_key.revoked']);
    expect(events[0]!.body.data.apiKey).toMatchObject({ id: apiKey.id, status: 'EXPIRED' });
  });

  it('renames and reveals send nothing', async () => {
    const { apiKey } = await createKey(tenant, ['customers:read'], 'Quiet');
    const from = await outboxLength(tenant);
    await t.run(UpdateApiKeyDocument, { input: { id: apiKey.id, name: 'Quieter' } }, asOwner(tenant));
    const revealed = await t.run(RevealApiKeyDocument, { id: apiKey.id }, asOwner(tenant));
    expect(revealed.body.data!.apiKey!.secret).toMatch(/^server-/);
    expect(await since(tenant, from)).toEqual([]);
  });
});

describe('the events of integrations', () => {
  it('integration.connected and integration.disconnected, each once, instead of the key events of its keys', async () => {
    const tenant = await seedTenant(t);
    await createEndpoint(t, tenant);
    const { body } = await t.run(
      ConnectIntegrationDocument,
      { input: { environmentId: tenant.dev.id, type: 'ZAPIER' } },
      asOwner(tenant),
    );
    const { integration, secret } = body.data!.connectIntegration;
    const connected = await outboxOf(t, tenant.dev.id);
    expect(connected.map((e) => e.type)).toEqual(['integration.connected']);
    expect(connected[0]!.body.data).toMatchObject({
      environmentId: tenant.dev.id,
      integration: { id: integration.id, type: 'ZAPIER' },
      apiKey: { id: integration.apiKey!.id, type: 'INTEGRATION', status: 'ACTIVE' },
      actor: ownerActor(tenant),
    });
    expect(connected[0]!.payload).not.toContain(secret);

    // A rotated integration has two live keys; disconnecting revokes both and says so once.
    const rotated = await rotate(tenant, integration.apiKey!.id, 'ONE_DAY');
    const from = await outboxLength(tenant);
    await t.run(DisconnectIntegrationDocument, { input: { id: integration.id } }, asOwner(tenant));
    const events = await since(tenant, from);
    expect(events.map((e) => e.type)).toEqual(['integration.disconnected']);
    expect(events[0]!.body.data).toMatchObject({
      integration: { id: integration.id, type: 'ZAPIER' },
      apiKey: { id: rotated.apiKey.id, status: 'EXPIRED' },
    });
  });
});

describe('the outbox shares the change’s transaction', () => {
  it('a change whose audit event cannot be written leaves no event and no delivery', async () => {
    const tenant = await seedTenant(t);
    const { endpoint } = await createEndpoint(t, tenant);
    const { apiKey } = await createKey(tenant, ['customers:read'], 'Kept');
    const before = await outboxTypes(t, tenant.dev.id);

    for (const [event, change] of [
      [
        'KEY_CREATED',
        () =>
          t.run(
            CreateScopedKeyDocument,
            { input: { environmentId: tenant.dev.id, name: 'Lost', scopes: ['customers:read'] } },
            asOwner(tenant),
          ),
      ],
      [
        'KEY_ROTATED',
        () => t.run(RotateApiKeyDocument, { input: { id: apiKey.id, expireOldKeyIn: 'ONE_HOUR' } }, asOwner(tenant)),
      ],
      ['KEY_REVOKED', () => t.run(RevokeApiKeyDocument, { input: { id: apiKey.id } }, asOwner(tenant))],
    ] as const) {
      const lift = await failAuditInserts(t.keygate.deps.db, event);
      try {
        const { body } = await change();
        expect(codes(body), event).toEqual(['INTERNAL']);
      } finally {
        await lift();
      }
    }
    expect(await outboxTypes(t, tenant.dev.id)).toEqual(before);
    expect((await deliveriesOf(t, tenant, endpoint.id)).map((d) => d.eventType)).toEqual(['API_KEY_CREATED']);
  });

  it('a change whose event cannot be written does not happen', async () => {
    const tenant = await seedTenant(t);
    await createEndpoint(t, tenant);
    const { apiKey, secret } = await createKey(tenant, ['customers:read'], 'Survivor');
    const lift = await refuseInserts(t.keygate.deps.db, 'webhook_events', 'type', 'api_key.revoked');
    try {
      const { body } = await t.run(RevokeApiKeyDocument, { input: { id: apiKey.id } }, asOwner(tenant));
      expect(codes(body)).toEqual(['INTERNAL']);
    } finally {
      await lift();
    }
    expect((await t.run(ViewerDocument, {}, { key: secret })).status).toBe(200);
    const audit = await t.keygate.deps.db
      .selectFrom('key_audit_events')
      .select('event')
      .where('key_id', '=', apiKey.id)
      .execute();
    expect(audit.map((a) => a.event)).toEqual(['KEY_CREATED']);
  });

  it('an event written before a later step fails is rolled back with the change (rotated, then its notice refused)', async () => {
    const tenant = await seedTenant(t);
    const { endpoint } = await createEndpoint(t, tenant);
    const { apiKey } = await createKey(tenant, ['customers:read'], 'Half rotated');
    const before = await outboxTypes(t, tenant.dev.id);
    const keysBefore = await t.keygate.deps.db
      .selectFrom('api_keys')
      .select('id')
      .where('environment_id', '=', tenant.dev.id)
      .execute();
    const lift = await refuseInserts(t.keygate.deps.db, 'webhook_events', 'type', 'api_key.expiring');
    try {
      const { body } = await t.run(
        RotateApiKeyDocument,
        { input: { id: apiKey.id, expireOldKeyIn: 'ONE_DAY' } },
        asOwner(tenant),
      );
      expect(codes(body)).toEqual(['INTERNAL']);
    } finally {
      await lift();
    }
    // api_key.rotated was written first in the same transaction: it is gone, and so are the new key and the old key's expiry.
    expect(await outboxTypes(t, tenant.dev.id)).toEqual(before);
    expect((await deliveriesOf(t, tenant, endpoint.id)).map((d) => d.eventType)).toEqual(['API_KEY_CREATED']);
    const keysAfter = await t.keygate.deps.db
      .selectFrom('api_keys')
      .select('id')
      .where('environment_id', '=', tenant.dev.id)
      .execute();
    expect(keysAfter).toEqual(keysBefore);
    const old = await t.keygate.deps.db
      .selectFrom('api_keys')
      .select(['expires_at', 'rotated_to_id'])
      .where('id', '=', apiKey.id)
      .executeTakeFirstOrThrow();
    expect(old).toEqual({ expires_at: null, rotated_to_id: null });
  });

  it('an event and its deliveries are written together: a refused delivery leaves no event and no change', async () => {
    const tenant = await seedTenant(t);
    await createEndpoint(t, tenant);
    const before = await outboxTypes(t, tenant.dev.id);
    const lift = await refuseInserts(t.keygate.deps.db, 'webhook_deliveries', 'environment_id', tenant.dev.id);
    try {
      const { body } = await t.run(
        CreateScopedKeyDocument,
        { input: { environmentId: tenant.dev.id, name: 'Undelivered', scopes: ['customers:read'] } },
        asOwner(tenant),
      );
      expect(codes(body)).toEqual(['INTERNAL']);
    } finally {
      await lift();
    }
    expect(await outboxTypes(t, tenant.dev.id)).toEqual(before);
    const named = await t.keygate.deps.db.selectFrom('api_keys').select('id').where('name', '=', 'Undelivered').execute();
    expect(named).toEqual([]);
  });
});

describe('no secret leaves', () => {
  it('payloads, deliveries, audit details, activity and logs hold no key secret and no signing secret', async () => {
    const tenant = await seedTenant(t);
    const { signingSecret } = await createEndpoint(t, tenant);
    const created = await createKey(tenant, ['customers:read'], 'Leak check');
    const rotated = await rotate(tenant, created.apiKey.id, 'NOW');
    const secrets = [signingSecret, created.secret, rotated.secret, tenant.dev.fullAccessKey.secret];

    const payloads = (await outboxOf(t, tenant.dev.id)).map((e) => e.payload).join('\n');
    const audit = JSON.stringify(
      await t.keygate.deps.db.selectFrom('key_audit_events').selectAll().where('environment_id', '=', tenant.dev.id).execute(),
    );
    const endpoints = JSON.stringify(
      await t.keygate.deps.db
        .selectFrom('webhook_endpoints')
        .select(['url', 'description', 'event_types'])
        .where('environment_id', '=', tenant.dev.id)
        .execute(),
    );
    await t.keygate.deps.activity.flush();
    const activity = await t.run(ActivityDocument, { environmentId: tenant.dev.id, first: 100 }, asOwner(tenant));
    expect(activity.body.data!.activity.edges.map((e) => e.node.action)).toEqual(
      expect.arrayContaining(['Create webhook endpoint', 'Create scoped key', 'Rotate API key']),
    );
    for (const secret of secrets) {
      for (const [where, text] of Object.entries({ payloads, audit, endpoints, activity: JSON.stringify(activity.body) })) {
        expect(text, where).not.toContain(secret);
      }
      for (const line of capturedLogs) expect(line).not.toContain(secret);
    }
  });
});
