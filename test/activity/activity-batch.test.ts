import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrator.js';
import { ActivityRecorder } from '../../src/modules/activity/activity.recorder.js';
import {
  type ActivityStore,
  activityStoreOf,
  countActivityEvents,
  insertPlanStats,
  storedActivityEvents,
  writeActivityEvents,
} from '../../src/modules/activity/activity.repository.js';
import { ACTIVITY_OUTCOMES, type ActivityEvent } from '../../src/modules/activity/activity.table.js';
import { ACTOR_TYPES } from '../../src/modules/audit/actor.js';
import { ulid } from '../../src/shared/ids.js';
import { freshDatabaseUrl, refuseInserts } from '../harness/database.js';

/**
 * The activity writer's batch insert: every event lands exactly once, with
 * every value in its place, whatever the batch size; its cost in statements
 * stays a small constant per 256 events; it needs only a few distinct
 * statements, which the database's statement cache keeps prepared; and the
 * counters it writes beside the events stay exact through retries.
 */
let handle: DatabaseHandle;
let store: ActivityStore;
beforeAll(async () => {
  handle = await connectDatabase({ url: await freshDatabaseUrl(), poolSize: 2 });
  await migrateToLatest(handle.db);
  store = activityStoreOf(handle.db, handle.dialect);
});
afterAll(() => handle?.close());

const ENVIRONMENTS = ['env_0000000000000000000000000A', 'env_0000000000000000000000000B', 'env_0000000000000000000000000C'];
const KEYS = Array.from({ length: 7 }, (_, i) => `key_00000000000000000000000${String(i).padStart(3, '0')}`);
const START = Date.UTC(2026, 10, 28, 12, 0, 0);

let seq = 0;
/** Events spread over three environments, seven keys, every outcome and actor type, minutes and hours. */
function event(): ActivityEvent {
  const n = seq++;
  const at = START + n * 7_919;
  const keyed = n % 2 === 1;
  return {
    id: `act_${ulid(at)}`,
    environmentId: ENVIRONMENTS[n % 3]!,
    timestamp: new Date(at),
    field: `field${n % 11}`,
    operationType: n % 2 ? 'query' : 'mutation',
    outcome: ACTIVITY_OUTCOMES[n % 3]!,
    errorCode: n % 3 === 0 ? null : `CODE_${n % 4}`,
    actor: keyed
      ? { type: 'API_KEY', id: KEYS[n % 7]!, displayName: `Key ${n % 7}` }
      : {
          type: ACTOR_TYPES[n % 4 === 0 ? 0 : 2]!,
          id: n % 4 === 0 ? 'usr_00000000000000000000000001' : null,
          displayName: 'Ada',
        },
    apiKeyId: keyed ? KEYS[n % 7]! : null,
    requestId: `req-${n}`,
  };
}

async function stored(ids: string[]): Promise<ActivityEvent[]> {
  const wanted = new Set(ids);
  const all = (await Promise.all(ENVIRONMENTS.map((env) => storedActivityEvents(handle.db, handle.dialect, env)))).flat();
  return all.filter((e) => wanted.has(e.id)).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Statements a batch may cost per 256 events (events and counters), plus a few per batch (transaction, interning). */
const STATEMENTS_PER_256 = 8;
const STATEMENTS_PER_BATCH = 6;

describe('writeActivityEvents', () => {
  // 5,000 events carry 50,000 parameters: more than one statement may bind on either database.
  for (const size of [1, 3, 200, 513, 5000]) {
    it(`stores a batch of ${size} exactly, every value in its place, in a bounded number of statements`, async () => {
      const events = Array.from({ length: size }, event);
      const before = handle.stats.statements;
      expect(await writeActivityEvents(store, events)).toBe(size);
      const statements = handle.stats.statements - before;
      expect(statements).toBeGreaterThan(0);
      expect(statements).toBeLessThanOrEqual(STATEMENTS_PER_256 * Math.ceil(size / 256) + STATEMENTS_PER_BATCH);
      expect(await stored(events.map((e) => e.id))).toEqual([...events].sort((a, b) => (a.id < b.id ? -1 : 1)));
    });
  }

  // Every size from 1 to 40, and around the largest chunk.
  const SIZES = [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 100, 127, 200, 255, 256, 257, 300, 511];
  it('reuses a handful of distinct statements whatever the batch sizes, so the statement cache prepares each once', async () => {
    const texts = new Set<string>();
    const stop = handle.observe((sql) => texts.add(sql));
    try {
      for (const size of SIZES) await writeActivityEvents(store, Array.from({ length: size }, event));
    } finally {
      stop();
    }
    // Far fewer statement texts than sizes: well within the cache (500 per database).
    expect(texts.size).toBeGreaterThan(0);
    expect(texts.size).toBeLessThanOrEqual(24);
  });

  it('compiles each of those statements once, not once per batch (every batch is its own transaction)', async () => {
    await writeActivityEvents(store, Array.from({ length: 200 }, event));
    const compiled = insertPlanStats.compiled;
    for (let batch = 0; batch < 5; batch++) await writeActivityEvents(store, Array.from({ length: 200 }, event));
    expect(insertPlanStats.compiled).toBe(compiled);
  });

  it('is idempotent: writing a batch again (a retry) adds nothing, changes nothing and counts nothing twice', async () => {
    const env = 'env_0000000000000000000000RETRY';
    const events = Array.from({ length: 37 }, () => ({ ...event(), environmentId: env }));
    await writeActivityEvents(store, events);
    const first = await storedActivityEvents(handle.db, handle.dialect, env);
    const retried = [...events.slice(10), ...Array.from({ length: 5 }, () => ({ ...event(), environmentId: env }))];
    expect(await writeActivityEvents(store, retried)).toBe(5);
    const after = await storedActivityEvents(handle.db, handle.dialect, env);
    expect(after.filter((e) => first.some((f) => f.id === e.id))).toEqual(first);
    expect(after).toHaveLength(42);
    const read = { db: handle.db, dialect: handle.dialect, refs: store.refs, cutoffMs: 0 };
    expect(await countActivityEvents({ ...read, filter: { environmentId: env } })).toBe(42);
  });

  it('writes nothing for an empty batch', async () => {
    const before = handle.stats.statements;
    await writeActivityEvents(store, []);
    expect(handle.stats.statements).toBe(before);
  });
});

describe('ActivityRecorder', () => {
  it('writes the rest of a batch when the database refuses one event, and counts the refused one instead of retrying it forever', async () => {
    const lift = await refuseInserts(handle.db, 'activity_events', 'request_id', 'poisoned');
    try {
      const recorder = new ActivityRecorder(store, { logger: pino({ level: 'silent' }) });
      const events = [event(), { ...event(), requestId: 'poisoned' }, event()];
      recorder.record(events);
      await recorder.flush();
      expect((await stored(events.map((e) => e.id))).map((e) => e.id)).toEqual([events[0]!.id, events[2]!.id].sort());
      expect(recorder.refused).toBe(1);
      expect(recorder.depth).toBe(0);
      // Nothing is left to retry: a later batch is written at once.
      const later = event();
      recorder.record([later]);
      await recorder.flush();
      expect(await stored([later.id])).toHaveLength(1);
    } finally {
      await lift();
    }
  });

  it('close() waits for a batch already being written, so nothing in flight is lost at shutdown', async () => {
    const recorder = new ActivityRecorder(store, { logger: pino({ level: 'silent' }) });
    const events = Array.from({ length: 50 }, event);
    recorder.record(events);
    void recorder.flush();
    // The batch has left the queue and is on its way to the database.
    while (recorder.depth > 0) await new Promise((resolve) => setImmediate(resolve));
    await recorder.close();
    expect(await stored(events.map((e) => e.id))).toHaveLength(50);
  });
});
