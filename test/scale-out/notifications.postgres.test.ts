import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifications } from '../../src/database/notifications.js';
import { POSTGRES_URL } from '../harness/database.js';
import { Relay } from '../harness/relay.js';

/**
 * The LISTEN connection behind cross-instance invalidation, through a relay
 * the test can break: a connection that silently stops answering (packets
 * dropped, nothing closed) is noticed by the heartbeat, subscribers are told
 * they may have missed messages, and listening resumes by itself.
 */
const target = new URL(POSTGRES_URL);
const relay = new Relay({ host: target.hostname, port: Number(target.port || 5432) });
// LISTEN is database-wide: a channel of this run's own, so no other test hears it or is heard.
const channel = `kg_test_${randomBytes(6).toString('hex')}`;
let notifications: Notifications;
const heard: string[] = [];
const events: string[] = [];

const sender = new pg.Client({ connectionString: POSTGRES_URL });
const send = (payload: string) => sender.query('select pg_notify($1, $2)', [channel, payload]);

/** Waits for `condition`, giving up (and failing) after `ms`. */
async function eventually(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms; events: ${events.join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  await relay.start();
  await sender.connect();
  const viaRelay = new URL(POSTGRES_URL);
  viaRelay.host = `127.0.0.1:${relay.port}`;
  notifications = new Notifications(
    async () => {
      const client = new pg.Client({ connectionString: viaRelay.toString(), connectionTimeoutMillis: 1000 });
      await client.connect();
      return client;
    },
    pino({ level: 'silent' }),
    { heartbeatMs: 100, heartbeatTimeoutMs: 300 },
  );
  notifications.subscribe(channel, {
    message: (payload) => heard.push(payload),
    lost: () => events.push('lost'),
    restored: () => events.push('restored'),
  });
  await notifications.start();
});
afterAll(async () => {
  await notifications?.close();
  await sender.end();
  await relay.stop();
});

describe('cross-instance notifications', () => {
  it('notices a LISTEN connection that silently stops answering, says messages may be lost, and listens again once the network heals', async () => {
    expect(events).toEqual(['restored']);
    await send('before');
    await eventually(() => heard.includes('before'));

    relay.blackhole();
    await eventually(() => events.includes('lost'));
    // Sent while nothing gets through: never heard, which is what `lost` warned of.
    await send('during');

    relay.heal();
    await eventually(() => events.at(-1) === 'restored');
    await send('after');
    await eventually(() => heard.includes('after'));
    expect(heard).not.toContain('during');
    expect(events.filter((e) => e === 'lost').length).toBeGreaterThanOrEqual(1);
  });
});
