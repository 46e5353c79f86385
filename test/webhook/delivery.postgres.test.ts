import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { ManualClock, SECOND } from '../../src/shared/clock.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { testKeygateConfig } from '../harness/keygate.js';
import { deliveryRow, disableAllEndpoints, enqueueDelivery, insertEndpoint, Receiver } from './delivery-fixtures.js';

/**
 * Two Keygate instances on one PostgreSQL schema, sharing the deliveries:
 * each claims with `FOR UPDATE SKIP LOCKED`, so every attempt is made by
 * exactly one of them. Polls run side by side, as their timers would.
 */
const clock = new ManualClock('2026-06-01T12:00:00.000Z');
let a: Keygate;
let b: Keygate;
let scope: { accountId: string; environmentId: string };

beforeAll(async () => {
  const databaseUrl = await freshDatabaseUrl();
  const shared = { databaseUrl, masterKey: randomBytes(32), webhookAllowPrivate: true, webhookRetryScheduleSeconds: [10] };
  const instance = async () =>
    createKeygate({
      config: await testKeygateConfig(shared),
      clock,
      retention: { enabled: false },
      webhookDelivery: { enabled: false, maxInFlight: 4 },
    });
  a = await instance();
  b = await instance();
  const result = await bootstrapAccount(a.deps, { name: 'Two instances', plan: 'SCALE', ownerEmail: 'two@webhooks.test' });
  scope = { accountId: result.account.id, environmentId: result.environments[0]!.env.id };
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

/** Polls both instances side by side, twice each, until `done`. */
async function pollBoth(done: () => boolean): Promise<void> {
  for (let round = 0; !done(); round++) {
    if (round > 200) throw new Error('deliveries never completed');
    await Promise.all([
      a.deps.webhookDelivery.run(),
      b.deps.webhookDelivery.run(),
      a.deps.webhookDelivery.run(),
      b.deps.webhookDelivery.run(),
    ]);
  }
}

async function endpoints(receiver: Receiver, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = await insertEndpoint(a.deps, scope, receiver.url);
    receiver.trust(endpoint.secret);
    ids.push(endpoint.id);
  }
  return ids;
}

describe('two instances on one PostgreSQL database', () => {
  it('share the deliveries, each delivered exactly once', async () => {
    const receiver = await Receiver.start();
    receiver.respond = (_request, res) => setTimeout(() => res.writeHead(204).end(), 10);
    const endpointIds = await endpoints(receiver, 3);
    const deliveries = [];
    for (let i = 0; i < 40; i++) deliveries.push(await enqueueDelivery(a.deps, scope, endpointIds[i % 3]!));
    await pollBoth(() => receiver.requests.length >= 40);

    expect([...receiver.ids].sort()).toEqual(deliveries.map((d) => d.eventId).sort());
    expect(receiver.requests.every((r) => r.verifiedBy.length === 1)).toBe(true);
    const [byA, byB] = [a.deps.webhookDelivery.stats.succeeded, b.deps.webhookDelivery.stats.succeeded];
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect(byA + byB).toBe(40);
    for (const { deliveryId } of deliveries)
      expect(await deliveryRow(a.deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, claimed_by: null });
    await disableAllEndpoints(a.deps.db);
    await receiver.close();
  });

  it('make each retry once, whichever instance makes it', async () => {
    const receiver = await Receiver.start();
    const seen = new Set<string>();
    // The first attempt of every event fails; the retry succeeds.
    receiver.respond = (request, res) => {
      const id = String(request.headers['webhook-id']);
      res.writeHead(seen.has(id) ? 204 : 500).end();
      seen.add(id);
    };
    const endpointIds = await endpoints(receiver, 2);
    const deliveries = [];
    for (let i = 0; i < 20; i++) deliveries.push(await enqueueDelivery(a.deps, scope, endpointIds[i % 2]!));
    await pollBoth(() => receiver.requests.length >= 20);
    clock.advance(10 * SECOND);
    await pollBoth(() => receiver.requests.length >= 40);

    const counts = new Map<string, number>();
    for (const id of receiver.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.values()]).toEqual(Array(20).fill(2));
    for (const { deliveryId } of deliveries)
      expect(await deliveryRow(a.deps.db, deliveryId)).toMatchObject({
        status: 'SUCCEEDED',
        attempts: 2,
        last_response_status: 204,
      });
    await disableAllEndpoints(a.deps.db);
    await receiver.close();
  });
});
