import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import {
  ChangeGracePeriodDocument,
  CreateScopedKeyDocument,
  CreateWebhookEndpointDocument,
  RevokeApiKeyDocument,
  RotateApiKeyDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { DAY, HOUR, ManualClock, MINUTE } from '../../src/shared/clock.js';
import { dialect, freshDatabaseUrl } from '../harness/database.js';
import {
  type Credential,
  seedTenant,
  setKeyColumns,
  startTestKeygate,
  type Tenant,
  type TestKeygate,
  testKeygateConfig,
} from '../harness/keygate.js';
import { rememberSecrets } from '../harness/leak-scan.js';
import { createEndpoint, deliveriesOf, outboxOf, RECEIVER } from './webhook.fixture.js';

let t: TestKeygate;
beforeAll(async () => {
  // Small pages: a pass must walk every page of due keys, ties on the expiry included.
  t = await startTestKeygate({ webhookAllowPrivate: true }, { webhookScheduler: { batchSize: 2 } });
});

/** The tenant's Development full access key: it never expires, whatever the manual clock does. */
const fullAccess = (tenant: Tenant): Credential => ({ key: tenant.dev.fullAccessKey.secret });
const pass = () => t.keygate.deps.webhooks.scheduler.run();

async function scopedKey(tenant: Tenant, name: string) {
  const { body } = await t.run(
    CreateScopedKeyDocument,
    { input: { environmentId: tenant.dev.id, name, scopes: ['customers:read'] } },
    fullAccess(tenant),
  );
  expect(body.errors).toBeUndefined();
  return body.data!.createScopedKey;
}

/** The notices of one key in the outbox, oldest first: [type, window, inUse]. */
async function noticesOf(tenant: Tenant, keyId: string) {
  return (await outboxOf(t, tenant.dev.id))
    .filter((e) => e.type.startsWith('api_key.expir') && e.body.data.apiKey.id === keyId)
    .map((e) => [e.type, e.body.data.window, e.body.data.inUse] as const);
}

describe('the expiry scheduler (manual clock)', () => {
  it('a ONE_DAY rotation: rotated and the 24 h notice at once, the 1 h notice (inUse) at 23 h, expired at 24 h, each exactly once', async () => {
    const tenant = await seedTenant(t);
    const { endpoint } = await createEndpoint(t, tenant, {}, fullAccess(tenant));
    const { apiKey, secret } = await scopedKey(tenant, 'Daily');
    const start = t.clock.now().getTime();
    await t.run(RotateApiKeyDocument, { input: { id: apiKey.id, expireOldKeyIn: 'ONE_DAY' } }, fullAccess(tenant));
    expect(await noticesOf(tenant, apiKey.id)).toEqual([['api_key.expiring', '24h', false]]);

    for (let i = 0; i < 3; i++) await pass();
    t.clock.set(new Date(start + 22 * HOUR));
    await pass();
    expect(await noticesOf(tenant, apiKey.id)).toEqual([['api_key.expiring', '24h', false]]);

    // A service still on the old secret, ten minutes before the last hour starts.
    t.clock.set(new Date(start + 22 * HOUR + 50 * MINUTE));
    expect((await t.run(ViewerDocument, {}, { key: secret })).status).toBe(200);
    t.clock.set(new Date(start + 23 * HOUR));
    for (let i = 0; i < 3; i++) await pass();
    expect(await noticesOf(tenant, apiKey.id)).toEqual([
      ['api_key.expiring', '24h', false],
      ['api_key.expiring', '1h', true],
    ]);
    const oneHour = (await outboxOf(t, tenant.dev.id)).find((e) => e.body.data.window === '1h')!;
    expect(oneHour.body.data).toMatchObject({
      apiKey: {
        id: apiKey.id,
        status: 'EXPIRING_SOON',
        lastUsedAt: new Date(start + 22 * HOUR + 50 * MINUTE).toISOString(),
        expiresAt: new Date(start + DAY).toISOString(),
      },
      rotatedTo: { id: expect.stringMatching(/^key_/) },
      actor: { type: 'SYSTEM', id: null, displayName: 'System' },
      inUse: true,
    });
    expect(oneHour.body.timestamp).toBe(new Date(start + 23 * HOUR).toISOString());

    t.clock.set(new Date(start + DAY));
    for (let i = 0; i < 3; i++) await pass();
    t.clock.set(new Date(start + 3 * DAY));
    await pass();
    expect(await noticesOf(tenant, apiKey.id)).toEqual([
      ['api_key.expiring', '24h', false],
      ['api_key.expiring', '1h', true],
      // Last used 70 minutes before it expired: no longer in use.
      ['api_key.expired', null, false],
    ]);
    const deliveries = await deliveriesOf(t, tenant, endpoint.id, tenant.dev.id, fullAccess(tenant));
    expect(deliveries.map((d) => d.eventType)).toEqual([
      'API_KEY_EXPIRED',
      'API_KEY_EXPIRING',
      'API_KEY_EXPIRING',
      'API_KEY_ROTATED',
      'API_KEY_CREATED',
    ]);
    expect(deliveries.every((d) => d.status === 'PENDING' && d.attempts === 0)).toBe(true);
  });

  it('sends what fell due while no pass ran: only the notice due now, never the windows it missed', async () => {
    const tenant = await seedTenant(t);
    await createEndpoint(t, tenant, {}, fullAccess(tenant));
    const missed = await scopedKey(tenant, 'Missed window');
    const passed = await scopedKey(tenant, 'Passed');
    // Expiries no change announced (set behind the API): only the scheduler can notice them.
    const now = t.clock.now().getTime();
    await setKeyColumns(t, missed.apiKey.id, { expires_at: new Date(now + 20 * HOUR).toISOString() });
    await setKeyColumns(t, passed.apiKey.id, { expires_at: new Date(now + 2 * HOUR).toISOString() });
    t.clock.set(new Date(now + 19 * HOUR + 30 * MINUTE));
    await pass();
    expect(await noticesOf(tenant, missed.apiKey.id)).toEqual([['api_key.expiring', '1h', false]]);
    expect(await noticesOf(tenant, passed.apiKey.id)).toEqual([['api_key.expired', null, false]]);
  });

  it('sends nothing for revoked keys, and follows a grace change to its new expiry', async () => {
    const tenant = await seedTenant(t);
    await createEndpoint(t, tenant, {}, fullAccess(tenant));
    const revoked = await scopedKey(tenant, 'Revoked in grace');
    const regraced = await scopedKey(tenant, 'Regraced');
    const start = t.clock.now().getTime();
    await t.run(RotateApiKeyDocument, { input: { id: revoked.apiKey.id, expireOldKeyIn: 'ONE_DAY' } }, fullAccess(tenant));
    await t.run(RevokeApiKeyDocument, { input: { id: revoked.apiKey.id } }, fullAccess(tenant));
    await t.run(RotateApiKeyDocument, { input: { id: regraced.apiKey.id, expireOldKeyIn: 'ONE_HOUR' } }, fullAccess(tenant));
    await t.run(ChangeGracePeriodDocument, { input: { id: regraced.apiKey.id, expireIn: 'SEVEN_DAYS' } }, fullAccess(tenant));
    for (const at of [23 * HOUR + 30 * MINUTE, 2 * DAY, 6 * DAY + 12 * HOUR]) {
      t.clock.set(new Date(start + at));
      await pass();
    }
    expect(await noticesOf(tenant, revoked.apiKey.id)).toEqual([['api_key.expiring', '24h', false]]);
    expect(await noticesOf(tenant, regraced.apiKey.id)).toEqual([
      ['api_key.expiring', '1h', false],
      ['api_key.expiring', '24h', false],
    ]);
    const dedupes = (await outboxOf(t, tenant.dev.id)).filter(
      (e) => e.body.data.apiKey?.id === regraced.apiKey.id && e.dedupe_key,
    );
    expect(dedupes.map((e) => e.dedupe_key)).toEqual([
      `api_key.expiring:1h:${regraced.apiKey.id}:${new Date(start + HOUR).toISOString()}`,
      `api_key.expiring:24h:${regraced.apiKey.id}:${new Date(start + 7 * DAY).toISOString()}`,
    ]);
  });

  it('walks every page of due keys, several with the same expiry', async () => {
    const tenant = await seedTenant(t);
    await createEndpoint(t, tenant, {}, fullAccess(tenant));
    const same = new Date(t.clock.now().getTime() + 12 * HOUR).toISOString();
    const keys = [];
    for (let i = 0; i < 5; i++) keys.push(await scopedKey(tenant, `Batch ${i}`));
    for (const key of keys) await setKeyColumns(t, key.apiKey.id, { expires_at: same });
    await pass();
    for (const key of keys) expect(await noticesOf(tenant, key.apiKey.id)).toEqual([['api_key.expiring', '24h', false]]);
  });

  it('looks back 7 days for expiries that passed unnoticed, no further', async () => {
    const tenant = await seedTenant(t);
    await createEndpoint(t, tenant, {}, fullAccess(tenant));
    const recent = await scopedKey(tenant, 'Six days ago');
    const old = await scopedKey(tenant, 'Eight days ago');
    const now = t.clock.now().getTime();
    await setKeyColumns(t, recent.apiKey.id, { expires_at: new Date(now - 6 * DAY).toISOString() });
    await setKeyColumns(t, old.apiKey.id, { expires_at: new Date(now - 8 * DAY).toISOString() });
    await pass();
    expect(await noticesOf(tenant, recent.apiKey.id)).toEqual([['api_key.expired', null, false]]);
    expect(await noticesOf(tenant, old.apiKey.id)).toEqual([]);
  });
});

describe('across a restart', () => {
  const clock = new ManualClock('2026-06-01T12:00:00.000Z');
  let databaseUrl: string;
  let masterKey: Buffer;
  let sessionSecret: Buffer;
  const open: Keygate[] = [];
  afterAll(async () => {
    await Promise.all(open.map((k) => k.close()));
  });
  const start = async () => {
    const config = await testKeygateConfig({ databaseUrl, webhookAllowPrivate: true });
    const keygate = await createKeygate({
      config: { ...config, masterKey, sessionSecret },
      clock,
      webhookScheduler: { enabled: false },
      // The deliveries are looked at before any attempt: the worker runs only when the test runs it.
      webhookDelivery: { enabled: false },
      retention: { enabled: false },
    });
    open.push(keygate);
    return keygate;
  };
  const ask = async <TData, TVars>(
    keygate: Keygate,
    key: string,
    document: TypedDocumentNode<TData, TVars>,
    variables: TVars,
  ) => {
    const res = await keygate.yoga.fetch('http://keygate.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await res.json()) as { data: TData; errors?: unknown };
    expect(body.errors).toBeUndefined();
    return body.data;
  };

  it('a notice that fell due while Keygate was down is written by the first pass after it starts again', async () => {
    databaseUrl = await freshDatabaseUrl(
      dialect === 'sqlite' ? { fileDir: mkdtempSync(path.join(tmpdir(), 'keygate-webhook-restart-')) } : {},
    );
    const config = await testKeygateConfig();
    masterKey = config.masterKey;
    sessionSecret = config.sessionSecret;
    const first = await start();
    const boot = await bootstrapAccount(first.deps, { name: 'Restart', plan: 'SCALE', ownerEmail: 'restart@webhooks.test' });
    const env = boot.environments[0]!;
    rememberSecrets(env.fullAccess.secret);
    const key = env.fullAccess.secret;
    await ask(first, key, CreateWebhookEndpointDocument, { input: { url: RECEIVER } });
    const scoped = await ask(first, key, CreateScopedKeyDocument, {
      input: { name: 'Across restarts', scopes: ['customers:read'] },
    });
    rememberSecrets(scoped.createScopedKey.secret);
    const keyId = scoped.createScopedKey.apiKey.id;
    const rotated = await ask(first, key, RotateApiKeyDocument, { input: { id: keyId, expireOldKeyIn: 'ONE_DAY' } });
    rememberSecrets(rotated.rotateApiKey.secret);
    await first.close();
    open.splice(open.indexOf(first), 1);

    // Down through the 1 h mark; back 30 minutes before the expiry.
    clock.advance(23 * HOUR + 30 * MINUTE);
    const second = await start();
    await second.deps.webhooks.scheduler.run();
    const notices = await second.deps.db
      .selectFrom('webhook_events')
      .select(['type', 'dedupe_key'])
      .where('environment_id', '=', env.env.id)
      .where('type', 'in', ['api_key.expiring', 'api_key.expired'])
      .orderBy('id')
      .execute();
    expect(notices.map((n) => n.dedupe_key?.split(':').slice(0, 3).join(':'))).toEqual([
      `api_key.expiring:24h:${keyId}`,
      `api_key.expiring:1h:${keyId}`,
    ]);
    const deliveries = await second.deps.db
      .selectFrom('webhook_deliveries')
      .select(['status', 'attempts'])
      .where('environment_id', '=', env.env.id)
      .execute();
    // created, rotated, the 24 h notice and the 1 h notice, each waiting for its first attempt.
    expect(deliveries).toHaveLength(4);
    expect(deliveries.every((d) => d.status === 'PENDING' && d.attempts === 0)).toBe(true);
  });
});

describe('the scheduler a Keygate starts', () => {
  it('runs by itself and stops on close', async () => {
    const keygate = await createKeygate({
      config: await testKeygateConfig(),
      webhookScheduler: { intervalMs: 20 },
      webhookDelivery: { enabled: false },
      retention: { enabled: false },
    });
    const { scheduler } = keygate.deps.webhooks;
    const deadline = Date.now() + 10_000;
    while (scheduler.stats.passes < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(scheduler.stats.passes).toBeGreaterThanOrEqual(2);
    await keygate.close();
    const after = scheduler.stats.passes;
    await new Promise((r) => setTimeout(r, 100));
    expect(scheduler.stats.passes).toBe(after);
  });
});
