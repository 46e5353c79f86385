import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import {
  CreateScopedKeyDocument,
  CreateWebhookEndpointDocument,
  RotateApiKeyDocument,
} from '../../src/client/generated/graphql.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { findKeysByIds } from '../../src/modules/api-key/api-key.repository.js';
import { SYSTEM_ACTOR } from '../../src/modules/audit/actor.js';
import { emitDueExpiryNotice } from '../../src/modules/webhook/webhook.outbox.js';
import { HOUR, ManualClock, MINUTE } from '../../src/shared/clock.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { testKeygateConfig } from '../harness/keygate.js';
import { rememberSecrets } from '../harness/leak-scan.js';
import { RECEIVER } from './webhook.fixture.js';

/** Two Keygates on one PostgreSQL schema and one manual clock: two instances behind a load balancer. */
const clock = new ManualClock('2026-06-01T12:00:00.000Z');
let a: Keygate;
let b: Keygate;
let fullAccess: string;
let environmentId: string;
let endpointId: string;

beforeAll(async () => {
  const shared = await testKeygateConfig({ databaseUrl: await freshDatabaseUrl(), webhookAllowPrivate: true });
  const instance = () =>
    createKeygate({ config: shared, clock, webhookScheduler: { enabled: false }, retention: { enabled: false } });
  a = await instance();
  b = await instance();
  const boot = await bootstrapAccount(a.deps, { name: 'Two', plan: 'SCALE', ownerEmail: 'two@webhooks.test' });
  fullAccess = boot.environments[0]!.fullAccess.secret;
  environmentId = boot.environments[0]!.env.id;
  rememberSecrets(fullAccess);
  const created = await ask(a, CreateWebhookEndpointDocument, { input: { url: RECEIVER } });
  rememberSecrets(created.createWebhookEndpoint.signingSecret);
  endpointId = created.createWebhookEndpoint.endpoint.id;
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

async function ask<TData, TVars>(keygate: Keygate, document: TypedDocumentNode<TData, TVars>, variables: TVars): Promise<TData> {
  const res = await keygate.yoga.fetch('http://keygate.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': fullAccess },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await res.json()) as { data: TData; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data;
}

async function rotatedKey(name: string) {
  const created = await ask(b, CreateScopedKeyDocument, { input: { name, scopes: ['customers:read'] } });
  rememberSecrets(created.createScopedKey.secret);
  const id = created.createScopedKey.apiKey.id;
  const rotated = await ask(a, RotateApiKeyDocument, { input: { id, expireOldKeyIn: 'ONE_DAY' } });
  rememberSecrets(rotated.rotateApiKey.secret);
  return id;
}

/** The notices of a key in the outbox, oldest first: each dedupe key with the endpoints it is delivered to. */
async function noticesOf(keyId: string) {
  const events = await a.deps.db
    .selectFrom('webhook_events')
    .select(['id', 'dedupe_key'])
    .where('environment_id', '=', environmentId)
    .where('dedupe_key', 'like', `%:${keyId}:%`)
    .orderBy('id')
    .execute();
  const deliveries = events.length
    ? await a.deps.db
        .selectFrom('webhook_deliveries')
        .select(['event_id', 'endpoint_id'])
        .where(
          'event_id',
          'in',
          events.map((e) => e.id),
        )
        .execute()
    : [];
  return events.map((e) => [e.dedupe_key, deliveries.filter((d) => d.event_id === e.id).map((d) => d.endpoint_id)]);
}

describe('expiry notices with two instances on one PostgreSQL database', () => {
  it('each notice is written once, with one delivery per endpoint, whichever instances run passes and however often', async () => {
    const keyId = await rotatedKey('Shared');
    const start = clock.now().getTime();
    const rounds = async () => {
      for (let i = 0; i < 5; i++) {
        await Promise.all([a.deps.webhooks.scheduler.run(), b.deps.webhooks.scheduler.run()]);
      }
    };
    await rounds();
    clock.set(new Date(start + 23 * HOUR + 15 * MINUTE));
    await rounds();
    clock.set(new Date(start + 24 * HOUR + MINUTE));
    await rounds();
    const expiresAt = new Date(start + 24 * HOUR).toISOString();
    expect(await noticesOf(keyId)).toEqual([
      [`api_key.expiring:24h:${keyId}:${expiresAt}`, [endpointId]],
      [`api_key.expiring:1h:${keyId}:${expiresAt}`, [endpointId]],
      [`api_key.expired:${keyId}:${expiresAt}`, [endpointId]],
    ]);
  });

  it('two instances writing the same notice at the same moment: one writes it, the other waits for it and writes nothing', async () => {
    const keyId = await rotatedKey('Raced');
    clock.advance(23 * HOUR + 30 * MINUTE);
    const now = clock.now();
    // A's transaction writes the 1 h notice and holds its commit while B's writes the same one.
    let releaseA!: () => void;
    const aHolds = new Promise<void>((resolve) => {
      releaseA = resolve;
    });
    let aWrote: boolean | undefined;
    let aBackend: number | undefined;
    const inA = a.deps.db.transaction().execute(async (trx) => {
      aBackend = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]!.pid;
      const [key] = await findKeysByIds(trx, [keyId]);
      aWrote = await emitDueExpiryNotice(trx, key!, now, SYSTEM_ACTOR);
      await aHolds;
    });
    while (aWrote === undefined) await new Promise((r) => setTimeout(r, 5));
    // B writes the same notice while A's row is not committed: PostgreSQL holds B's insert until A decides.
    const inB = b.deps.db.transaction().execute(async (trx) => {
      const [key] = await findKeysByIds(trx, [keyId]);
      return emitDueExpiryNotice(trx, key!, now, SYSTEM_ACTOR);
    });
    // A commits only once B is seen waiting on it, so the race is the one under test, not B arriving late.
    const waitingOnA = async () =>
      Number(
        (
          await sql<{
            n: number;
          }>`select count(*) as n from pg_stat_activity where ${aBackend} = any(pg_blocking_pids(pid))`.execute(a.deps.db)
        ).rows[0]!.n,
      );
    while ((await waitingOnA()) === 0) await new Promise((r) => setTimeout(r, 5));
    releaseA();
    await inA;
    expect(aWrote).toBe(true);
    expect(await inB).toBe(false);
    const expiresAt = new Date(now.getTime() + 30 * MINUTE).toISOString();
    expect(await noticesOf(keyId)).toEqual([
      [`api_key.expiring:24h:${keyId}:${expiresAt}`, [endpointId]],
      [`api_key.expiring:1h:${keyId}:${expiresAt}`, [endpointId]],
    ]);
  });
});
