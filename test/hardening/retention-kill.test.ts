import { randomFillSync, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { activityIdOf, bytesAtTime, idCodec } from '../../src/modules/activity/activity.codec.js';
import { activityStoreOf, writeActivityEvents } from '../../src/modules/activity/activity.repository.js';
import type { ActivityEvent } from '../../src/modules/activity/activity.table.js';
import { DAY } from '../../src/shared/clock.js';
import { bootstrap, postGraphQL, processEnv, startServeProcess } from '../harness/processes.js';

/**
 * kill -9 in the middle of a retention pass (SPEC §3, issue 15): every batch
 * is one statement, so what is left of the aged events is exactly the newest
 * of them (never a hole, never a half-deleted batch), nothing of the window
 * is touched, totalCount still agrees with the rows, and the next process
 * deletes the rest.
 */
const dialect = process.env.KEYGATE_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
const { env } = await processEnv('retention-kill', { KEYGATE_RATE_LIMIT: '0', LOG_LEVEL: 'warn' });
/** Enough aged events that the pass outlasts a few polls on either dialect. */
const AGED = dialect === 'sqlite' ? 300_000 : 80_000;
const WINDOW = 500;

const tenant = async (name: string, plan: string) => {
  const environment = (await bootstrap(env, name, plan, `${name}@keygate.test`)).environments[0]!;
  return { environmentId: environment.id, key: environment.fullAccessKey.secret };
};

function* events(environmentId: string, count: number, fromMs: number, toMs: number): Generator<ActivityEvent> {
  const random = Buffer.alloc(10);
  for (let i = 0; i < count; i++) {
    const ms = Math.floor(fromMs + ((toMs - fromMs) * i) / count);
    const bytes = bytesAtTime(ms);
    randomFillSync(random);
    random.copy(bytes, 6);
    yield {
      id: activityIdOf(bytes),
      environmentId,
      timestamp: new Date(ms),
      field: 'Query.viewer',
      operationType: 'query',
      outcome: i % 10 === 0 ? 'ERROR' : 'SUCCESS',
      errorCode: i % 10 === 0 ? 'INTERNAL_SERVER_ERROR' : null,
      actor: { type: 'SYSTEM', id: null, displayName: 'System' },
      apiKeyId: null,
      requestId: randomUUID(),
    };
  }
}

async function write(handle: DatabaseHandle, all: Iterable<ActivityEvent>): Promise<string[]> {
  const store = activityStoreOf(handle.db, handle.dialect);
  const ids: string[] = [];
  let batch: ActivityEvent[] = [];
  for (const event of all) {
    batch.push(event);
    ids.push(event.id);
    if (batch.length === 5000) {
      await writeActivityEvents(store, batch);
      batch = [];
    }
  }
  await writeActivityEvents(store, batch);
  return ids;
}

describe(`kill -9 during a retention pass (${dialect})`, () => {
  it('leaves whole batches: the newest aged events and the whole window, exact counts, and the next process deletes the rest', async () => {
    const free = await tenant('Aged', 'FREE');
    const scale = await tenant('Kept', 'SCALE');
    const handle = await connectDatabase({ url: env.DATABASE_URL!, poolSize: 2 });
    try {
      const now = Date.now();
      // Aged for the FREE plan's 7 days: days 10 and 9 ago. The window: the last day.
      const aged = (await write(handle, events(free.environmentId, AGED, now - 10 * DAY, now - 9 * DAY))).sort();
      const window = (await write(handle, events(free.environmentId, WINDOW, now - DAY, now - 60_000))).sort();
      // On PostgreSQL the aged days also hold a SCALE environment's events (kept 90 days), so they cannot be
      // dropped whole and the FREE events go batch by batch, as on SQLite.
      await write(handle, events(scale.environmentId, 48, now - 10 * DAY, now - 9 * DAY));
      const ref = (await activityStoreOf(handle.db, handle.dialect).refs.find(free.environmentId))!;
      const codec = idCodec(handle.dialect);
      const stored = async () => {
        const { rows } = await sql<{ id: string | Buffer }>`
          select id from activity_events where environment = ${ref} order by id`.execute(handle.db);
        return rows.map((r) => activityIdOf(codec.decode(r.id as never)));
      };
      const count = async () => {
        const { rows } = await sql<{ n: number | string }>`
          select count(*) as n from activity_events where environment = ${ref}`.execute(handle.db);
        return Number(rows[0]!.n);
      };
      const agedStill = async () => {
        const { rows } = await sql<{ n: number | string }>`
          select count(*) as n from activity_events
          where environment = ${ref} and id < ${codec.encode(bytesAtTime(now - 8 * DAY))}`.execute(handle.db);
        return Number(rows[0]!.n);
      };

      // The first pass starts 10 s after start; kill once it has deleted some but not all of the aged events.
      const server = await startServeProcess(env);
      const exited = new Promise((done) => server.child.once('exit', done));
      const total = AGED + WINDOW;
      let left = total;
      for (const started = Date.now(); Date.now() - started < 60_000; ) {
        left = await count();
        if (left < total) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      server.child.kill('SIGKILL');
      await exited;
      expect(left).toBeLessThan(total);

      const after = await stored();
      const agedLeft = after.length - WINDOW;
      // Killed mid-pass: some deleted, some left.
      expect(agedLeft).toBeGreaterThan(0);
      expect(agedLeft).toBeLessThan(AGED);
      // Exactly the newest aged events are left, then every event of the window: whole batches, oldest first.
      expect(after).toEqual([...aged.slice(AGED - agedLeft), ...window]);
      if (handle.dialect === 'sqlite') {
        const check = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(handle.db);
        expect(check.rows).toEqual([{ integrity_check: 'ok' }]);
      }

      // The next process serves the window with exact counts, and its own pass deletes the rest.
      const restarted = await startServeProcess(env);
      try {
        const { body } = await postGraphQL(
          restarted.url,
          free.key,
          '{ all: activity(first: 1) { totalCount } errors: activity(first: 1, filter: { outcome: ERROR }) { totalCount } }',
        );
        expect(body.errors).toBeUndefined();
        // The query itself is logged after it is answered: the window as written.
        expect(body.data.all.totalCount).toBe(WINDOW);
        expect(body.data.errors.totalCount).toBe(WINDOW / 10);
        for (const started = Date.now(); (await agedStill()) > 0 && Date.now() - started < 60_000; )
          await new Promise((resolve) => setTimeout(resolve, 200));
        // Every aged event gone, every event of the window there (beside the events of the query above).
        const final = await stored();
        expect(final.filter((id) => id < window[0]!)).toEqual([]);
        expect(final.slice(0, WINDOW)).toEqual(window);
      } finally {
        await restarted.stop();
      }
    } finally {
      await handle.close();
    }
  });
});
