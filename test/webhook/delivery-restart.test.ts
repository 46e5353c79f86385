import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { systemClock } from '../../src/shared/clock.js';
import { SecretBox } from '../../src/shared/secret-box.js';
import { keygateCommand, processEnv, startServeProcess } from '../harness/processes.js';
import { deliveryRow, enqueueDelivery, insertEndpoint, Receiver, until } from './delivery-fixtures.js';

/**
 * `kill -9` between the change and the delivery: the event is in the outbox,
 * the instance dies while its attempt is in flight, and the next start
 * delivers it once the dead instance's claim has run out (the attempt's
 * 15 s timeout plus a margin, in real time). The receiver sees the event
 * twice (at least once), and the delivery ends SUCCEEDED.
 */
let env: NodeJS.ProcessEnv;
let db: DatabaseHandle;
let receiver: Receiver;
const masterKey = randomBytes(32);

beforeAll(async () => {
  ({ env } = await processEnv('webhook-restart', {
    KEYGATE_MASTER_KEY: masterKey.toString('hex'),
    KEYGATE_SESSION_SECRET: randomBytes(32).toString('hex'),
    KEYGATE_WEBHOOK_ALLOW_PRIVATE: 'true',
  }));
  await keygateCommand(env, 'migrate');
  db = await connectDatabase({ url: env.DATABASE_URL!, poolSize: 1 });
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver?.close();
  await db?.close();
});

describe('a Keygate killed with an attempt in flight', () => {
  it('delivers the event after the restart', { timeout: 90_000 }, async () => {
    const { stdout } = await keygateCommand(
      env,
      'bootstrap',
      '--account',
      'Restart',
      '--plan',
      'SCALE',
      '--owner',
      'restart@webhooks.test',
      '--json',
    );
    const tenant = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const scope = { accountId: tenant.account.id as string, environmentId: tenant.environments[0].id as string };
    const deps = { db: db.db, secretBox: new SecretBox(masterKey), clock: systemClock };
    const endpoint = await insertEndpoint(deps, scope, receiver.url);
    receiver.trust(endpoint.secret);
    // The first attempt never gets an answer: the instance dies waiting for it.
    receiver.respond = () => {};

    const first = await startServeProcess(env);
    const { deliveryId, eventId } = await enqueueDelivery(deps, scope, endpoint.id);
    await until(() => receiver.requests.length === 1, 'the first attempt to arrive', 20_000);
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await exited;
    expect(await deliveryRow(db.db, deliveryId)).toMatchObject({ status: 'PENDING', attempts: 0 });
    expect((await deliveryRow(db.db, deliveryId)).claimed_by).not.toBeNull();

    receiver.respond = (_request, res) => res.writeHead(204).end();
    const second = await startServeProcess(env);
    await until(async () => (await deliveryRow(db.db, deliveryId)).status === 'SUCCEEDED', 'the delivery to succeed', 60_000);
    expect(await deliveryRow(db.db, deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, last_response_status: 204 });
    expect(receiver.ids).toEqual([eventId, eventId]);
    expect(receiver.requests.every((r) => r.verifiedBy.length === 1)).toBe(true);
    expect(await second.stop()).toBe(0);
  });
});
