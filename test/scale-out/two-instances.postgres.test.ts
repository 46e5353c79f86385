import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { storedActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { keygateCommand, postGraphQL, type ServeProcess, startServeProcess } from '../harness/processes.js';

/**
 * Two real `keygate serve` processes on one PostgreSQL database (a fresh
 * schema), on loopback ports: what users get behind a load balancer.
 */
let env: NodeJS.ProcessEnv;
let a: ServeProcess;
let b: ServeProcess;
let fullAccess: string;
let environmentId: string;
/** The Production environment's full access key: tests whose keys must not count in the Development activity below. */
let productionKey: string;
let db: DatabaseHandle;
/** Instance B's connections carry this name, so a test can find B's LISTEN connection among every other. */
const applicationNameOfB = `kg_b_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const databaseUrl = await freshDatabaseUrl();
  env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    KEYGATE_MASTER_KEY: randomBytes(32).toString('hex'),
    KEYGATE_SESSION_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
  };
  const { stdout } = await keygateCommand(
    env,
    'bootstrap',
    '--account',
    'Scale',
    '--plan',
    'SCALE',
    '--owner',
    'scale@keygate.test',
    '--json',
  );
  const tenant = JSON.parse(stdout.trim().split('\n').at(-1)!);
  fullAccess = tenant.environments[0].fullAccessKey.secret;
  environmentId = tenant.environments[0].id;
  productionKey = tenant.environments[1].fullAccessKey.secret;
  const urlOfB = new URL(databaseUrl);
  urlOfB.searchParams.set('application_name', applicationNameOfB);
  [a, b] = await Promise.all([startServeProcess(env), startServeProcess({ ...env, DATABASE_URL: urlOfB.toString() })]);
  db = await connectDatabase({ url: databaseUrl, poolSize: 1 });
});
afterAll(async () => {
  await db?.close();
});

const createKey = async (on: ServeProcess, scopes: string[], creator = fullAccess) => {
  const { body } = await postGraphQL(
    on.url,
    creator,
    'mutation($input: CreateScopedKeyInput!) { createScopedKey(input: $input) { secret apiKey { id } } }',
    { input: { name: 'two-instances', scopes } },
  );
  return body.data.createScopedKey as { secret: string; apiKey: { id: string } };
};

/** Asks `probe` until its answer passes `done` or `ms` have passed; returns the last answer. */
async function within<T>(ms: number, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    value = await probe();
  }
  return value;
}

describe('several instances on one PostgreSQL database', () => {
  it('a key revoked through instance A fails on instance B within one second', async () => {
    const key = await createKey(a, ['customers:read']);
    expect((await postGraphQL(b.url, key.secret, '{ viewer { kind } }')).status).toBe(200);
    const revoked = await postGraphQL(
      a.url,
      fullAccess,
      'mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { status } } }',
      { id: key.apiKey.id },
    );
    expect(revoked.body.data.revokeApiKey.apiKey.status).toBe('EXPIRED');
    const deadline = Date.now() + 1000;
    let status = 200;
    while (status !== 401 && Date.now() < deadline) status = (await postGraphQL(b.url, key.secret, '{ viewer { kind } }')).status;
    expect(status).toBe(401);
    expect((await postGraphQL(a.url, key.secret, '{ viewer { kind } }')).status).toBe(401);
  });

  it('a key re-scoped, then rotated with NOW, through instance A changes on instance B within one second', async () => {
    const key = await createKey(a, ['customers:read'], productionKey);
    const permissionsOnB = async () =>
      (await postGraphQL(b.url, key.secret, '{ viewer { permissions } }')).body.data?.viewer.permissions as string[] | undefined;
    expect(await permissionsOnB()).toEqual(['customers:read']);
    const rescoped = await postGraphQL(
      a.url,
      productionKey,
      'mutation($id: ID!) { updateApiKeyScopes(input: { id: $id, scopes: ["coupons:read"] }) { apiKey { id } } }',
      { id: key.apiKey.id },
    );
    expect(rescoped.body.errors).toBeUndefined();
    expect(await within(1000, permissionsOnB, (p) => p?.[0] === 'coupons:read')).toEqual(['coupons:read']);

    const rotated = await postGraphQL(
      a.url,
      productionKey,
      'mutation($id: ID!) { rotateApiKey(input: { id: $id, expireOldKeyIn: NOW }) { secret } }',
      { id: key.apiKey.id },
    );
    const successor = rotated.body.data.rotateApiKey.secret as string;
    const statusOnB = async () => (await postGraphQL(b.url, key.secret, '{ viewer { kind } }')).status;
    expect(await within(1000, statusOnB, (s) => s === 401)).toBe(401);
    expect((await postGraphQL(b.url, successor, '{ viewer { kind } }')).status).toBe(200);
  });

  it('a key revoked while instance B’s LISTEN connection is down (the notification never reaches B) is refused by B once it listens again', async () => {
    const key = await createKey(a, ['customers:read'], productionKey);
    // B verifies the key and caches it.
    expect((await postGraphQL(b.url, key.secret, '{ viewer { kind } }')).status).toBe(200);
    const listenerOfB = async () =>
      (
        await db.db
          .selectFrom(sql<{ pid: number; query: string; application_name: string }>`pg_stat_activity`.as('a'))
          .select('pid')
          .where('application_name', '=', applicationNameOfB)
          .where('query', 'ilike', 'listen %')
          .execute()
      ).map((r) => r.pid);
    const [before] = await listenerOfB();
    expect(before).toBeDefined();
    await sql`select pg_terminate_backend(${before}::int, 5000)`.execute(db.db);
    const revoked = await postGraphQL(
      a.url,
      productionKey,
      'mutation($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { status } } }',
      { id: key.apiKey.id },
    );
    expect(revoked.body.data.revokeApiKey.apiKey.status).toBe('EXPIRED');
    // B reconnects by itself; it must not trust what it cached before.
    expect(await within(10_000, listenerOfB, (pids) => pids.length > 0 && !pids.includes(before!))).not.toContain(before);
    expect((await postGraphQL(b.url, key.secret, '{ viewer { kind } }')).status).toBe(401);
  });

  it('20 concurrent rotations of one key spread over both instances create exactly one new key', async () => {
    const key = await createKey(b, ['coupons:read']);
    const before = await db.db.selectFrom('api_keys').select('id').where('environment_id', '=', environmentId).execute();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        postGraphQL(
          i % 2 ? a.url : b.url,
          fullAccess,
          'mutation($id: ID!) { rotateApiKey(input: { id: $id, expireOldKeyIn: ONE_HOUR }) { apiKey { id } } }',
          {
            id: key.apiKey.id,
          },
        ),
      ),
    );
    const codes = results.map((r) => r.body.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((c) => c === 'OK')).toHaveLength(1);
    expect(codes.filter((c) => c === 'CONFLICT')).toHaveLength(19);
    const after = await db.db
      .selectFrom('api_keys')
      .select(['id', 'rotated_from_id'])
      .where('environment_id', '=', environmentId)
      .execute();
    expect(after.length - before.length).toBe(1);
    expect(after.filter((k) => k.rotated_from_id === key.apiKey.id)).toHaveLength(1);
  });

  it('every mutation lands in the activity log exactly once after both instances shut down', async () => {
    const calls = Array.from({ length: 30 }, (_, i) =>
      postGraphQL(
        i % 2 ? a.url : b.url,
        fullAccess,
        `mutation { createCoupon(input: { code: "TWO${i}", percentOff: 5 }) { coupon { id } } }`,
      ).then((r) => r.body.data.createCoupon.coupon.id as string),
    );
    expect(new Set(await Promise.all(calls)).size).toBe(30);
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    const events = (await storedActivityEvents(db.db, 'postgres', environmentId)).map((e) => ({ ...e, request_id: e.requestId }));
    const byField = (field: string) => events.filter((e) => e.field === field);
    expect(byField('createCoupon').filter((e) => e.outcome === 'SUCCESS')).toHaveLength(30);
    expect(byField('rotateApiKey')).toHaveLength(20);
    expect(byField('rotateApiKey').filter((e) => e.outcome === 'SUCCESS')).toHaveLength(1);
    expect(byField('createScopedKey')).toHaveLength(2);
    expect(byField('revokeApiKey')).toHaveLength(1);
    // Exactly once: no two events share a request and field.
    const keys = events.map((e) => `${e.request_id}/${e.field}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
