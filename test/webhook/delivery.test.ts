import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDeliveryWorker } from '../../src/modules/webhook/webhook.delivery.js';
import { DAY, HOUR, SECOND } from '../../src/shared/clock.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import {
  deliveryRow,
  disableAllEndpoints,
  enqueueDelivery,
  insertEndpoint,
  Receiver,
  refuseDeliveryUpdates,
  until,
} from './delivery-fixtures.js';

/**
 * The delivery worker (SPEC §10) against real receivers on loopback, each
 * verifying every request with the `standardwebhooks` package. Polls run
 * when a test runs them, at the manual clock's time; the retry schedule is
 * short (10 s, then 60 s: three attempts in all) and an attempt times out
 * after 300 ms, so retries are reached by moving the clock.
 */
const TIMEOUT_MS = 300;
const MAX_BODY = 64 * 1024;
let t: TestKeygate;
let tenant: Tenant;
let scope: { accountId: string; environmentId: string };
const worker = () => t.keygate.deps.webhookDelivery;

beforeAll(async () => {
  t = await startTestKeygate(
    { webhookAllowPrivate: true, webhookRetryScheduleSeconds: [10, 60] },
    { webhookDelivery: { timeoutMs: TIMEOUT_MS, maxResponseBytes: MAX_BODY } },
  );
  tenant = await seedTenant(t);
  scope = { accountId: tenant.accountId, environmentId: tenant.dev.id };
});
// One test's retries never reach the next test's polls.
afterEach(() => disableAllEndpoints(t.keygate.deps.db));

async function receiverWithEndpoint(options: Parameters<typeof insertEndpoint>[3] = {}) {
  const receiver = await Receiver.start();
  const endpoint = await insertEndpoint(t.keygate.deps, scope, receiver.url, options);
  receiver.trust(endpoint.secret);
  return { receiver, endpoint };
}

describe('delivery', () => {
  it('delivers on the first poll: the stored body byte for byte, JSON, signed, with the event id', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    const { deliveryId, eventId, payload } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request!.body).toBe(payload);
    expect(request!.verifiedBy).toEqual([endpoint.secret]);
    expect(request!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Keygate-Webhooks',
      'webhook-id': eventId,
    });
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'SUCCEEDED',
      attempts: 1,
      last_attempt_at: t.clock.now().toISOString(),
      last_response_status: 204,
      last_error: null,
      next_attempt_at: null,
      claimed_by: null,
      claimed_until: null,
    });
    await worker().run();
    expect(receiver.requests).toHaveLength(1);
    await receiver.close();
  });

  it('retries a receiver answering 500 on the schedule, records each attempt, and fails the delivery after the last', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    receiver.respond = (_request, res) => res.writeHead(500).end('{"error":"internal detail the receiver leaked"}');
    const { deliveryId, eventId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    const row = () => deliveryRow(t.keygate.deps.db, deliveryId);
    const start = t.clock.now().getTime();

    await worker().run();
    expect(await row()).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      last_response_status: 500,
      last_error: 'HTTP 500',
      next_attempt_at: new Date(start + 10 * SECOND).toISOString(),
    });
    // Not due yet: no attempt.
    t.clock.advance(10 * SECOND - 1);
    await worker().run();
    expect(receiver.requests).toHaveLength(1);

    t.clock.advance(1);
    await worker().run();
    expect(await row()).toMatchObject({
      status: 'PENDING',
      attempts: 2,
      last_attempt_at: new Date(start + 10 * SECOND).toISOString(),
      next_attempt_at: new Date(start + 70 * SECOND).toISOString(),
    });

    t.clock.advance(60 * SECOND);
    await worker().run();
    expect(await row()).toMatchObject({
      status: 'FAILED',
      attempts: 3,
      last_response_status: 500,
      last_error: 'HTTP 500',
      next_attempt_at: null,
      claimed_by: null,
    });
    t.clock.advance(DAY);
    await worker().run();
    expect(receiver.ids).toEqual([eventId, eventId, eventId]);
    expect(receiver.requests.every((r) => r.verifiedBy.length === 1)).toBe(true);
    await receiver.close();
  });

  it.each([
    ['seconds longer than the schedule', () => '120', 120 * SECOND],
    ['an HTTP date longer than the schedule', () => new Date(t.clock.now().getTime() + 2 * HOUR).toUTCString(), 2 * HOUR],
    ['seconds shorter than the schedule', () => '3', 10 * SECOND],
    ['more than a day (capped at a day)', () => String(7 * 24 * 3600), DAY],
    ['not a number nor a date', () => 'soon', 10 * SECOND],
  ])('honours a 429 with Retry-After as %s', async (_name, retryAfter, delay) => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    receiver.respond = (_request, res) => res.writeHead(429, { 'retry-after': retryAfter() }).end();
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      last_response_status: 429,
      last_error: 'HTTP 429',
      next_attempt_at: new Date(t.clock.now().getTime() + delay).toISOString(),
    });
    await receiver.close();
  });

  it('times out a receiver that never answers, records it, and retries', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    receiver.respond = () => {};
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      last_response_status: null,
      last_error: `timeout after ${TIMEOUT_MS / 1000} s`,
      next_attempt_at: new Date(t.clock.now().getTime() + 10 * SECOND).toISOString(),
    });
    receiver.respond = (_request, res) => res.writeHead(200).end('ok');
    t.clock.advance(10 * SECOND);
    await worker().run();
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'SUCCEEDED',
      attempts: 2,
      last_error: null,
    });
    expect(receiver.requests).toHaveLength(2);
    await receiver.close();
  });

  it('does not follow a redirect, even to an address it could reach, and records it as a failure', async () => {
    const inside = await Receiver.start();
    const { receiver, endpoint } = await receiverWithEndpoint();
    inside.trust(endpoint.secret);
    receiver.respond = (_request, res) => res.writeHead(302, { location: `${inside.url}/metadata` }).end();
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      last_response_status: 302,
      last_error: 'redirect not followed (302)',
    });
    expect(receiver.requests).toHaveLength(1);
    expect(inside.connections).toBe(0);
    await Promise.all([receiver.close(), inside.close()]);
  });

  it('reads at most a bounded part of a 50 MB answer, then closes the connection', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    const FIFTY_MB = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    let finished: boolean | null = null;
    receiver.respond = (_request, res) => {
      res.writeHead(200, { 'content-length': String(FIFTY_MB) });
      res.on('close', () => {
        finished = res.writableFinished;
      });
      const pump = () => {
        while (written < FIFTY_MB && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const before = worker().stats.responseBodyBytes;
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    await until(() => finished !== null, 'the receiver to see its answer end');
    // The bound, plus at most the one chunk that crossed it.
    expect(worker().stats.responseBodyBytes - before).toBeLessThanOrEqual(MAX_BODY + 64 * 1024);
    expect(finished).toBe(false);
    expect(written).toBeLessThan(FIFTY_MB);
    // The status decided the attempt; the body never mattered.
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', last_response_status: 200 });
    await receiver.close();
  });

  it('signs with both secrets for 24 h after a rotation, each verifying alone, then with the new one only', async () => {
    const previous = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const rotatedAt = t.clock.now();
    const { receiver, endpoint } = await receiverWithEndpoint({
      previousSecret: previous,
      previousSecretExpiresAt: new Date(rotatedAt.getTime() + DAY),
    });
    receiver.trust(previous);
    await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    expect(receiver.requests[0]!.verifiedBy).toEqual([endpoint.secret, previous]);
    expect(String(receiver.requests[0]!.headers['webhook-signature']).split(' ')).toHaveLength(2);

    t.clock.set(new Date(rotatedAt.getTime() + DAY));
    await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    expect(receiver.requests[1]!.verifiedBy).toEqual([endpoint.secret]);
    expect(String(receiver.requests[1]!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    await receiver.close();
  });

  it("holds a disabled endpoint's deliveries until it is enabled again", async () => {
    const { receiver, endpoint } = await receiverWithEndpoint({ enabled: false });
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await worker().run();
    expect(receiver.requests).toHaveLength(0);
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({ status: 'PENDING', attempts: 0, claimed_by: null });
    await t.keygate.deps.db
      .updateTable('webhook_endpoints')
      .set({ enabled: t.keygate.deps.database.dialect === 'sqlite' ? 1 : true })
      .where('id', '=', endpoint.id)
      .execute();
    await worker().run();
    expect(receiver.requests).toHaveLength(1);
    await receiver.close();
  });
});

describe('claims', () => {
  it("leaves a delivery another instance holds until that instance's claim runs out, then retries it", async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    const claimedUntil = new Date(t.clock.now().getTime() + 20 * SECOND);
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id, {
      claimedBy: 'crashed-instance',
      claimedUntil,
    });
    await worker().run();
    expect(receiver.requests).toHaveLength(0);
    t.clock.set(claimedUntil);
    await worker().run();
    expect(receiver.requests).toHaveLength(0);
    t.clock.advance(1);
    await worker().run();
    expect(receiver.requests).toHaveLength(1);
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', claimed_by: null });
    await receiver.close();
  });

  it("writes an attempt's outcome only while the claim is still the instance's own", async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    const { deps } = t.keygate;
    // A second instance on the same database; its attempts outlast its claim (the timeout is longer than the clock's jump).
    const slow = new WebhookDeliveryWorker({
      db: deps.db,
      dialect: deps.database.dialect,
      secretBox: deps.secretBox,
      clock: t.clock,
      logger: deps.logger,
      policy: { allowPrivate: true },
      retryScheduleSeconds: [10],
      timeoutMs: 10 * SECOND,
    });
    let answerSlow: (() => void) | null = null;
    receiver.respond = (_request, res) => {
      if (!answerSlow) answerSlow = () => res.writeHead(500).end();
      else res.writeHead(204).end();
    };
    const { deliveryId } = await enqueueDelivery(deps, scope, endpoint.id);
    const slowRun = slow.run();
    await until(() => answerSlow !== null, 'the first attempt to arrive');
    expect((await deliveryRow(deps.db, deliveryId)).claimed_by).toBe(slow.instanceId);
    // The slow instance is taken for crashed: its claim runs out and this instance delivers.
    t.clock.advance(10 * SECOND + 5 * SECOND + 1);
    await worker().run();
    expect(await deliveryRow(deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    answerSlow!();
    await slowRun;
    expect(slow.stats.claimsLost).toBe(1);
    expect(await deliveryRow(deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, last_response_status: 204 });
    await slow.close();
    await receiver.close();
  });

  it('keeps at most 2 attempts in flight per endpoint and 3 in all, without one endpoint holding back another', async () => {
    const { deps } = t.keygate;
    const bounded = new WebhookDeliveryWorker({
      db: deps.db,
      dialect: deps.database.dialect,
      secretBox: deps.secretBox,
      clock: t.clock,
      logger: deps.logger,
      policy: { allowPrivate: true },
      retryScheduleSeconds: [10],
      maxInFlight: 3,
      maxPerEndpoint: 2,
    });
    const a = await receiverWithEndpoint();
    const b = await receiverWithEndpoint();
    const held: (() => void)[] = [];
    const open = { a: 0, b: 0, max: { a: 0, b: 0, all: 0 } };
    let hold = true;
    for (const [name, { receiver }] of [
      ['a', a],
      ['b', b],
    ] as const) {
      receiver.respond = (_request, res) => {
        open[name]++;
        open.max[name] = Math.max(open.max[name], open[name]);
        open.max.all = Math.max(open.max.all, open.a + open.b);
        const answer = () => {
          open[name]--;
          res.writeHead(204).end();
        };
        if (hold) held.push(answer);
        else setTimeout(answer, 5);
      };
    }
    for (let i = 0; i < 5; i++) await enqueueDelivery(deps, scope, a.endpoint.id);
    for (let i = 0; i < 5; i++) await enqueueDelivery(deps, scope, b.endpoint.id);
    const first = bounded.run();
    await until(() => held.length === 3, 'three attempts in flight');
    // The first poll claimed 3 of the 10 due: endpoint A's bound left a slot for B.
    expect({ a: open.a, b: open.b }).toEqual({ a: 2, b: 1 });
    // Polls overlapping an attempt in flight add nothing beyond the bounds.
    await bounded.run();
    expect(a.receiver.requests.length + b.receiver.requests.length).toBe(3);
    hold = false;
    for (const answer of held) answer();
    await first;
    while (a.receiver.requests.length + b.receiver.requests.length < 10)
      await Promise.all([bounded.run(), bounded.run(), bounded.run()]);
    await bounded.close();
    // Bounds are ceilings: what was in flight never exceeded them, whatever the polls' interleaving.
    expect(open.max.a).toBeLessThanOrEqual(2);
    expect(open.max.b).toBeLessThanOrEqual(2);
    expect(open.max.all).toBeLessThanOrEqual(3);
    expect(a.receiver.requests).toHaveLength(5);
    expect(b.receiver.requests).toHaveLength(5);
    await Promise.all([a.receiver.close(), b.receiver.close()]);
  });
});

describe('shutdown', () => {
  const instance = (shutdownGraceMs: number) => {
    const { deps } = t.keygate;
    return new WebhookDeliveryWorker({
      db: deps.db,
      dialect: deps.database.dialect,
      secretBox: deps.secretBox,
      clock: t.clock,
      logger: deps.logger,
      policy: { allowPrivate: true },
      retryScheduleSeconds: [10],
      shutdownGraceMs,
    });
  };

  it('finishes an attempt that ends within the grace period', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    receiver.respond = (_request, res) => setTimeout(() => res.writeHead(204).end(), 50);
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    const closing = instance(5000);
    const running = closing.run();
    await until(() => receiver.requests.length === 1, 'the attempt to arrive');
    await closing.close();
    await running;
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    await receiver.close();
  });

  it('releases an attempt still in flight after the grace period, for the next instance to make at once', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    receiver.respond = () => {};
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    const closing = instance(50);
    const running = closing.run();
    await until(() => receiver.requests.length === 1, 'the attempt to arrive');
    expect((await deliveryRow(t.keygate.deps.db, deliveryId)).claimed_by).toBe(closing.instanceId);
    await closing.close();
    await running;
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'PENDING',
      attempts: 0,
      claimed_by: null,
      claimed_until: null,
      last_error: null,
    });
    // A closed worker claims nothing more.
    await closing.run();
    expect(receiver.requests).toHaveLength(1);
    // No clock moved: the release, not a claim running out, lets the next instance deliver.
    receiver.respond = (_request, res) => res.writeHead(204).end();
    await worker().run();
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    await receiver.close();
  });
});

describe('database failures', () => {
  it('keeps polling when a claim fails, and delivers once the database answers again', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    const lift = await refuseDeliveryUpdates(t.keygate.deps.db, 'refuse_claims', 'new.claimed_by is not null');
    await expect(worker().run()).resolves.toBeUndefined();
    expect(receiver.requests).toHaveLength(0);
    await lift();
    await worker().run();
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED' });
    await receiver.close();
  });

  it('loses nothing when an outcome cannot be recorded: the claim runs out and the delivery is made again', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    const { deliveryId, eventId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    const lift = await refuseDeliveryUpdates(t.keygate.deps.db, 'refuse_outcomes', "new.status = 'SUCCEEDED'");
    await worker().run();
    expect(receiver.requests).toHaveLength(1);
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'PENDING',
      attempts: 0,
      claimed_by: worker().instanceId,
    });
    await lift();
    // Still claimed: nothing happens until the claim runs out (the attempt's timeout plus a margin).
    await worker().run();
    expect(receiver.requests).toHaveLength(1);
    t.clock.advance(TIMEOUT_MS + 5 * SECOND + 1);
    await worker().run();
    expect(receiver.ids).toEqual([eventId, eventId]);
    expect(await deliveryRow(t.keygate.deps.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    await receiver.close();
  });
});

describe('address policy at every attempt', () => {
  let strict: TestKeygate;
  let strictScope: typeof scope;
  beforeAll(async () => {
    strict = await startTestKeygate({ webhookAllowPrivate: false, webhookRetryScheduleSeconds: [10] });
    const strictTenant = await seedTenant(strict);
    strictScope = { accountId: strictTenant.accountId, environmentId: strictTenant.dev.id };
  });

  it.each([
    [
      'a name resolving to loopback',
      (port: number) => `https://localhost:${port}/hook`,
      'refused: resolves to a non-public address',
    ],
    ['a loopback address', (port: number) => `https://127.0.0.1:${port}/hook`, 'refused: a non-public address'],
    [
      'an IPv4 address written as IPv6',
      (port: number) => `https://[::ffff:127.0.0.1]:${port}/hook`,
      'refused: a non-public address',
    ],
    ['plain http', (port: number) => `http://127.0.0.1:${port}/hook`, 'refused: not https'],
  ])('refuses %s without connecting, and records why', async (_name, url, error) => {
    const receiver = await Receiver.start();
    const port = Number(new URL(receiver.url).port);
    // As if the endpoint had passed the creation check and its name pointed inside later.
    const endpoint = await insertEndpoint(strict.keygate.deps, strictScope, url(port));
    const { deliveryId } = await enqueueDelivery(strict.keygate.deps, strictScope, endpoint.id);
    await strict.keygate.deps.webhookDelivery.run();
    expect(await deliveryRow(strict.keygate.deps.db, deliveryId)).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      last_response_status: null,
      last_error: error,
    });
    expect(receiver.connections).toBe(0);
    await disableAllEndpoints(strict.keygate.deps.db);
    await receiver.close();
  });
});

describe('polling', () => {
  const instance = (pollIntervalMs: number) => {
    const { deps } = t.keygate;
    return new WebhookDeliveryWorker({
      db: deps.db,
      dialect: deps.database.dialect,
      secretBox: deps.secretBox,
      clock: t.clock,
      logger: deps.logger,
      policy: { allowPrivate: true },
      retryScheduleSeconds: [10],
      pollIntervalMs,
    });
  };

  it('once started, delivers what falls due without being asked', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    const polling = instance(20);
    polling.start();
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    await until(async () => (await deliveryRow(t.keygate.deps.db, deliveryId)).status === 'SUCCEEDED', 'the poll to deliver');
    await polling.close();
    expect(receiver.requests).toHaveLength(1);
    await receiver.close();
  });

  it('delivers at once when woken after a commit, without waiting for the next poll', async () => {
    const { receiver, endpoint } = await receiverWithEndpoint();
    // The next poll is an hour away: only wake() can deliver within the wait.
    const polling = instance(3_600_000);
    polling.start();
    await polling.run();
    const { deliveryId } = await enqueueDelivery(t.keygate.deps, scope, endpoint.id);
    polling.wake();
    await until(
      async () => (await deliveryRow(t.keygate.deps.db, deliveryId)).status === 'SUCCEEDED',
      'the woken poll to deliver',
    );
    await polling.close();
    expect(receiver.requests).toHaveLength(1);
    await receiver.close();
  });
});
