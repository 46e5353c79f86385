import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  RedeliverWebhookDocument,
  RotateWebhookSecretDocument,
  SendTestWebhookDocument,
  UpdateWebhookEndpointDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
} from '../../src/client/generated/graphql.js';
import { HOUR, MINUTE } from '../../src/shared/clock.js';
import { capturedLogs, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';
import { bodyOf, createEndpoint, deliveriesOf, RECEIVER } from './webhook.fixture.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate({ webhookAllowPrivate: true });
});

const asOwner = (tenant: Tenant) => ({ token: tenant.owner.token });
const endpointRow = (id: string) =>
  t.keygate.deps.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('createWebhookEndpoint', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('creates an enabled endpoint and returns its whsec_ secret once, which standardwebhooks accepts', async () => {
    const { endpoint, signingSecret } = await createEndpoint(t, tenant, {
      description: 'Ops alerts',
      eventTypes: ['API_KEY_EXPIRING', 'API_KEY_ROTATED', 'API_KEY_EXPIRING'],
    });
    expect(signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const signed = new Webhook(signingSecret).sign('msg_1', new Date(), '{}');
    expect(
      new Webhook(signingSecret).verify('{}', {
        'webhook-id': 'msg_1',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': signed,
      }),
    ).toEqual({});
    expect(endpoint).toEqual({
      id: expect.stringMatching(/^whe_/),
      url: RECEIVER,
      description: 'Ops alerts',
      // Each once, in the enum's order.
      eventTypes: ['API_KEY_ROTATED', 'API_KEY_EXPIRING'],
      enabled: true,
      createdAt: t.clock.now().toISOString(),
      environment: { id: tenant.dev.id },
    });
  });

  it('stores the secret encrypted under the master key, bound to the endpoint, and never answers it again', async () => {
    const { endpoint, signingSecret } = await createEndpoint(t, tenant);
    const row = await endpointRow(endpoint.id);
    expect(row.secret_encrypted).not.toContain(signingSecret);
    expect(row.secret_encrypted).not.toContain(signingSecret.slice(6));
    expect(t.keygate.deps.secretBox.open(row.secret_encrypted, endpoint.id)).toBe(signingSecret);
    // Bound to its row: the same ciphertext does not open for another endpoint.
    expect(() => t.keygate.deps.secretBox.open(row.secret_encrypted, 'whe_00000000000000000000000000')).toThrow();

    const listed = await t.run(WebhookEndpointsDocument, { environmentId: tenant.dev.id }, asOwner(tenant));
    const deliveries = await t.run(WebhookDeliveriesDocument, { environmentId: tenant.dev.id }, asOwner(tenant));
    for (const body of [listed.body, deliveries.body]) expect(JSON.stringify(body)).not.toContain(signingSecret);
    // No field of the endpoint type could give it back.
    const { body } = await t.query('{ __type(name: "WebhookEndpoint") { fields { name } } }', {}, asOwner(tenant));
    expect(body.data!.__type.fields.map((f: { name: string }) => f.name).sort()).toEqual(
      ['createdAt', 'deliveries', 'description', 'enabled', 'environment', 'eventTypes', 'id', 'url'].sort(),
    );
    for (const line of capturedLogs) expect(line).not.toContain(signingSecret);
  });

  it("defaults to the calling key's environment; a user must name one (BAD_USER_INPUT)", async () => {
    const { endpoint } = await createEndpoint(t, tenant, { environmentId: null }, { key: tenant.prod.fullAccessKey.secret });
    expect(endpoint.environment.id).toBe(tenant.prod.id);
    const { body } = await t.run(CreateWebhookEndpointDocument, { input: { url: RECEIVER } }, asOwner(tenant));
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toMatch(/environmentId/);
  });

  it('takes every event type when none are named', async () => {
    const { endpoint } = await createEndpoint(t, tenant, { eventTypes: [] });
    expect(endpoint.eventTypes).toEqual([]);
    const { endpoint: omitted } = await createEndpoint(t, tenant, { eventTypes: null });
    expect(omitted.eventTypes).toEqual([]);
  });

  it('refuses bad input with BAD_USER_INPUT naming the field, and creates nothing', async () => {
    const own = await seedTenant(t);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ url: 'not a url' }, /^url: /],
      [{ url: 'ftp://127.0.0.1/hooks' }, /^url: /],
      [{ url: 'http://user:pass@127.0.0.1/hooks' }, /^url: .*credentials/],
      [{ url: `https://example.com/${'x'.repeat(2100)}` }, /^url: .*2048/],
      [{ url: RECEIVER, description: 'x'.repeat(501) }, /^description: .*500/],
      [{ url: RECEIVER, description: 'bell\u0007' }, /^description: .*control/],
    ];
    for (const [input, message] of cases) {
      const { body } = await t.run(
        CreateWebhookEndpointDocument,
        { input: { environmentId: own.dev.id, ...input } as never },
        asOwner(own),
      );
      expect(codes(body), JSON.stringify(input).slice(0, 80)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message).toMatch(message);
      expect(body.errors![0]!.message).not.toContain('pass');
    }
    const listed = await t.run(WebhookEndpointsDocument, { environmentId: own.dev.id }, asOwner(own));
    expect(listed.body.data!.webhookEndpoints).toEqual([]);
  });

  it('refuses an unknown event type at validation (BAD_USER_INPUT), literal or variable', async () => {
    const literal = await t.query(
      `mutation { createWebhookEndpoint(input: { environmentId: "${tenant.dev.id}", url: "${RECEIVER}", eventTypes: [API_KEY_EATEN] }) { signingSecret } }`,
      {},
      asOwner(tenant),
    );
    expect(codes(literal.body)).toEqual(['BAD_USER_INPUT']);
    expect(literal.body.errors![0]!.message).toMatch(/API_KEY_EATEN/);
    const variable = await t.run(
      CreateWebhookEndpointDocument,
      { input: { environmentId: tenant.dev.id, url: RECEIVER, eventTypes: ['api_key.created' as never] } },
      asOwner(tenant),
    );
    expect(codes(variable.body)).toEqual(['BAD_USER_INPUT']);
    expect(JSON.stringify(variable.body)).not.toContain('signingSecret":"whsec');
  });

  it('allows at most 20 endpoints per environment (CONFLICT after that)', async () => {
    const own = await seedTenant(t);
    for (let i = 0; i < 20; i++) await createEndpoint(t, own);
    const { body } = await t.run(
      CreateWebhookEndpointDocument,
      { input: { environmentId: own.dev.id, url: RECEIVER } },
      asOwner(own),
    );
    expect(codes(body)).toEqual(['CONFLICT']);
    // Another environment has its own 20.
    await createEndpoint(t, own, { environmentId: own.prod.id });
  });
});

describe('the address policy without KEYGATE_WEBHOOK_ALLOW_PRIVATE', () => {
  let strict: TestKeygate;
  let tenant: Tenant;
  beforeAll(async () => {
    strict = await startTestKeygate();
    tenant = await seedTenant(strict);
  });
  const create = (url: string) =>
    strict.run(CreateWebhookEndpointDocument, { input: { environmentId: tenant.dev.id, url } }, asOwner(tenant));

  it.each([
    'http://93.184.215.14/hooks',
    'https://127.0.0.1/hooks',
    'https://[::1]/hooks',
    'https://10.0.0.8/hooks',
    'https://169.254.169.254/latest/meta-data',
    'https://[::ffff:127.0.0.1]/hooks',
  ])('refuses %s (BAD_USER_INPUT on url)', async (url) => {
    const { body } = await create(url);
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.extensions!.field).toBe('url');
  });

  it('accepts https:// to a public address, and refuses a private one on update too', async () => {
    const { body } = await create('https://93.184.215.14/hooks');
    expect(body.errors).toBeUndefined();
    const id = body.data!.createWebhookEndpoint.endpoint.id;
    const updated = await strict.run(
      UpdateWebhookEndpointDocument,
      { input: { id, url: 'https://192.168.0.10/hooks' } },
      asOwner(tenant),
    );
    expect(codes(updated.body)).toEqual(['BAD_USER_INPUT']);
    const listed = await strict.run(WebhookEndpointsDocument, { environmentId: tenant.dev.id }, asOwner(tenant));
    expect(listed.body.data!.webhookEndpoints.map((e) => e.url)).toEqual(['https://93.184.215.14/hooks']);
  });
});

describe('updateWebhookEndpoint', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });
  const update = (input: Record<string, unknown>) =>
    t.run(UpdateWebhookEndpointDocument, { input: input as never }, asOwner(tenant));

  it('changes what is given and leaves the rest', async () => {
    const { endpoint } = await createEndpoint(t, tenant, { description: 'Before', eventTypes: ['API_KEY_REVOKED'] });
    const renamed = await update({ id: endpoint.id, description: 'After' });
    expect(renamed.body.data!.updateWebhookEndpoint.endpoint).toEqual({ ...endpoint, description: 'After' });
    const moved = await update({ id: endpoint.id, url: 'http://127.0.0.1:10/elsewhere', eventTypes: [], enabled: false });
    expect(moved.body.data!.updateWebhookEndpoint.endpoint).toEqual({
      ...endpoint,
      description: 'After',
      url: 'http://127.0.0.1:10/elsewhere',
      eventTypes: [],
      enabled: false,
    });
    const cleared = await update({ id: endpoint.id, description: null, enabled: true });
    expect(cleared.body.data!.updateWebhookEndpoint.endpoint).toMatchObject({ description: null, enabled: true, eventTypes: [] });
    const listed = await t.run(WebhookEndpointsDocument, { environmentId: tenant.dev.id }, asOwner(tenant));
    expect(listed.body.data!.webhookEndpoints.find((e) => e.id === endpoint.id)).toEqual(
      cleared.body.data!.updateWebhookEndpoint.endpoint,
    );
  });

  it('refuses a bad URL or description (BAD_USER_INPUT) and keeps the endpoint as it was', async () => {
    const { endpoint } = await createEndpoint(t, tenant);
    for (const input of [{ url: 'gopher://127.0.0.1/' }, { description: 'y'.repeat(501) }]) {
      const { body } = await update({ id: endpoint.id, ...input });
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    }
    const listed = await t.run(WebhookEndpointsDocument, { environmentId: tenant.dev.id }, asOwner(tenant));
    expect(listed.body.data!.webhookEndpoints.find((e) => e.id === endpoint.id)).toEqual(endpoint);
  });

  it('answers NOT_FOUND for an id that does not exist or is not an endpoint id', async () => {
    for (const id of ['whe_00000000000000000000000000', 'nonsense', tenant.dev.id]) {
      const { body } = await update({ id, enabled: false });
      expect(codes(body), id).toEqual(['NOT_FOUND']);
    }
  });
});

describe('rotateWebhookSecret', () => {
  it('returns a new secret once and keeps the previous one, encrypted, for 24 hours', async () => {
    const tenant = await seedTenant(t);
    const { endpoint, signingSecret: first } = await createEndpoint(t, tenant);
    const { body } = await t.run(RotateWebhookSecretDocument, { input: { id: endpoint.id } }, asOwner(tenant));
    const second = body.data!.rotateWebhookSecret.signingSecret;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    expect(body.data!.rotateWebhookSecret.endpoint.id).toBe(endpoint.id);
    const row = await endpointRow(endpoint.id);
    const box = t.keygate.deps.secretBox;
    expect(box.open(row.secret_encrypted, endpoint.id)).toBe(second);
    expect(box.open(row.previous_secret_encrypted!, endpoint.id)).toBe(first);
    expect(row.previous_secret_expires_at).toBe(new Date(t.clock.now().getTime() + 24 * HOUR).toISOString());

    // A second rotation keeps the secret it replaces (the one handed out last) as the previous one.
    const again = await t.run(RotateWebhookSecretDocument, { input: { id: endpoint.id } }, asOwner(tenant));
    const third = again.body.data!.rotateWebhookSecret.signingSecret;
    const after = await endpointRow(endpoint.id);
    expect(box.open(after.secret_encrypted, endpoint.id)).toBe(third);
    expect(box.open(after.previous_secret_encrypted!, endpoint.id)).toBe(second);
  });
});

describe('deleteWebhookEndpoint', () => {
  it('removes the endpoint and its deliveries; deleting again is NOT_FOUND', async () => {
    const tenant = await seedTenant(t);
    const { endpoint } = await createEndpoint(t, tenant);
    const { endpoint: kept } = await createEndpoint(t, tenant);
    await t.run(SendTestWebhookDocument, { input: { id: endpoint.id } }, asOwner(tenant));
    const { body } = await t.run(DeleteWebhookEndpointDocument, { input: { id: endpoint.id } }, asOwner(tenant));
    expect(body.data!.deleteWebhookEndpoint).toEqual({ id: endpoint.id });
    const listed = await t.run(WebhookEndpointsDocument, { environmentId: tenant.dev.id }, asOwner(tenant));
    expect(listed.body.data!.webhookEndpoints.map((e) => e.id)).toEqual([kept.id]);
    const left = await t.keygate.deps.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('endpoint_id', '=', endpoint.id)
      .execute();
    expect(left).toEqual([]);
    const again = await t.run(DeleteWebhookEndpointDocument, { input: { id: endpoint.id } }, asOwner(tenant));
    expect(codes(again.body)).toEqual(['NOT_FOUND']);
  });
});

describe('sendTestWebhook and redeliverWebhook', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  it('queues a webhook.test event to that endpoint only, PENDING and due now', async () => {
    const { endpoint } = await createEndpoint(t, tenant, { eventTypes: ['API_KEY_REVOKED'] });
    const { endpoint: other } = await createEndpoint(t, tenant);
    const { body } = await t.run(SendTestWebhookDocument, { input: { id: endpoint.id } }, asOwner(tenant));
    const delivery = body.data!.sendTestWebhook.delivery;
    const now = t.clock.now().toISOString();
    expect(delivery).toEqual({
      id: expect.stringMatching(/^whd_/),
      eventId: expect.stringMatching(/^wev_/),
      eventType: 'WEBHOOK_TEST',
      payload: {
        type: 'webhook.test',
        timestamp: now,
        data: {
          environmentId: tenant.dev.id,
          endpoint: { id: endpoint.id, url: RECEIVER },
          actor: { type: 'USER', id: tenant.owner.id, displayName: tenant.owner.email },
        },
      },
      status: 'PENDING',
      attempts: 0,
      lastAttemptAt: null,
      lastResponseStatus: null,
      nextAttemptAt: now,
      createdAt: now,
    });
    expect(await deliveriesOf(t, tenant, endpoint.id)).toEqual([delivery]);
    expect(await deliveriesOf(t, tenant, other.id)).toEqual([]);
  });

  it('redelivers the same event (same eventId, same body) as a new PENDING delivery due now', async () => {
    const { endpoint } = await createEndpoint(t, tenant);
    const sent = (await t.run(SendTestWebhookDocument, { input: { id: endpoint.id } }, asOwner(tenant))).body.data!
      .sendTestWebhook.delivery;
    t.clock.advance(10 * MINUTE);
    const { body } = await t.run(RedeliverWebhookDocument, { input: { deliveryId: sent.id } }, asOwner(tenant));
    const again = body.data!.redeliverWebhook.delivery;
    const now = t.clock.now().toISOString();
    expect(again).toEqual({ ...sent, id: expect.stringMatching(/^whd_/), nextAttemptAt: now, createdAt: now });
    expect(again.id).not.toBe(sent.id);
    expect(bodyOf(again)).toEqual(bodyOf(sent));
    expect((await deliveriesOf(t, tenant, endpoint.id)).map((d) => d.id)).toEqual([again.id, sent.id]);
  });

  it('answers NOT_FOUND for an unknown or malformed delivery id', async () => {
    for (const deliveryId of ['whd_00000000000000000000000000', 'x', tenant.dev.id]) {
      const { body } = await t.run(RedeliverWebhookDocument, { input: { deliveryId } }, asOwner(tenant));
      expect(codes(body), deliveryId).toEqual(['NOT_FOUND']);
    }
  });
});

describe('WebhookEndpoint.deliveries', () => {
  it('pages newest first with cursors and a total count', async () => {
    const tenant = await seedTenant(t);
    const { endpoint } = await createEndpoint(t, tenant);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await t.run(SendTestWebhookDocument, { input: { id: endpoint.id } }, asOwner(tenant));
      ids.push(body.data!.sendTestWebhook.delivery.id);
    }
    const newestFirst = [...ids].reverse();
    const first = await t.run(WebhookDeliveriesDocument, { environmentId: tenant.dev.id, first: 2 }, asOwner(tenant));
    const page1 = first.body.data!.webhookEndpoints[0]!.deliveries;
    expect(page1.totalCount).toBe(5);
    expect(page1.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(0, 2));
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const second = await t.run(
      WebhookDeliveriesDocument,
      { environmentId: tenant.dev.id, first: 10, after: page1.pageInfo.endCursor },
      asOwner(tenant),
    );
    const page2 = second.body.data!.webhookEndpoints[0]!.deliveries;
    expect(page2.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(2));
    expect(page2.pageInfo.hasNextPage).toBe(false);
    const bad = await t.run(WebhookDeliveriesDocument, { environmentId: tenant.dev.id, first: 101 }, asOwner(tenant));
    expect(codes(bad.body)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('webhookEndpoints', () => {
  it("lists an environment's endpoints in creation order, and no other environment's", async () => {
    const tenant = await seedTenant(t);
    const a = await createEndpoint(t, tenant);
    const b = await createEndpoint(t, tenant);
    await createEndpoint(t, tenant, { environmentId: tenant.prod.id });
    const { body } = await t.run(WebhookEndpointsDocument, { environmentId: null }, { key: tenant.dev.fullAccessKey.secret });
    expect(body.data!.webhookEndpoints).toEqual([a.endpoint, b.endpoint]);
  });
});

// ---------------------------------------------------------------- security matrix

/** One endpoint (and one delivery of it) per target tenant, made by its owner; remade when a test deleted it. */
const fixtures = new Map<Tenant, { endpointId: string; deliveryId: string }>();
async function fixtureOf(target: Tenant) {
  let fixture = fixtures.get(target);
  if (!fixture) {
    const { endpoint } = await createEndpoint(t, target);
    const sent = await t.run(SendTestWebhookDocument, { input: { id: endpoint.id } }, asOwner(target));
    fixture = { endpointId: endpoint.id, deliveryId: sent.body.data!.sendTestWebhook.delivery.id };
    fixtures.set(target, fixture);
  }
  return fixture;
}

const read = { permissions: ['webhooks:read'], targets: 'environment' as const, roles: ROLES_THAT.read };
const write = { permissions: ['webhooks:write'], targets: 'environment' as const, roles: ROLES_THAT.manage };

describeSecurityMatrix('webhookEndpoints', () => t, {
  ...read,
  call: (credential, target) => t.run(WebhookEndpointsDocument, { environmentId: target.dev.id }, credential),
});
describeSecurityMatrix('WebhookEndpoint.deliveries', () => t, {
  ...read,
  call: async (credential, target) => {
    await fixtureOf(target);
    return t.run(WebhookDeliveriesDocument, { environmentId: target.dev.id }, credential);
  },
});
describeSecurityMatrix('createWebhookEndpoint', () => t, {
  ...write,
  call: (credential, target) =>
    t.run(CreateWebhookEndpointDocument, { input: { environmentId: target.dev.id, url: RECEIVER } }, credential),
});
describeSecurityMatrix('updateWebhookEndpoint', () => t, {
  ...write,
  call: async (credential, target) =>
    t.run(UpdateWebhookEndpointDocument, { input: { id: (await fixtureOf(target)).endpointId, enabled: true } }, credential),
});
describeSecurityMatrix('rotateWebhookSecret', () => t, {
  ...write,
  call: async (credential, target) =>
    t.run(RotateWebhookSecretDocument, { input: { id: (await fixtureOf(target)).endpointId } }, credential),
});
describeSecurityMatrix('deleteWebhookEndpoint', () => t, {
  ...write,
  call: async (credential, target) => {
    const result = await t.run(
      DeleteWebhookEndpointDocument,
      { input: { id: (await fixtureOf(target)).endpointId } },
      credential,
    );
    if (result.body.data?.deleteWebhookEndpoint) fixtures.delete(target);
    return result;
  },
});
describeSecurityMatrix('sendTestWebhook', () => t, {
  ...write,
  call: async (credential, target) =>
    t.run(SendTestWebhookDocument, { input: { id: (await fixtureOf(target)).endpointId } }, credential),
});
describeSecurityMatrix('redeliverWebhook', () => t, {
  ...write,
  call: async (credential, target) =>
    t.run(RedeliverWebhookDocument, { input: { deliveryId: (await fixtureOf(target)).deliveryId } }, credential),
});
