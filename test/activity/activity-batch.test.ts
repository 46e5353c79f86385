import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrator.js';
import { ActivityRecorder } from '../../src/modules/activity/activity.recorder.js';
import { insertActivityEvents } from '../../src/modules/activity/activity.repository.js';
import type { ActivityEventRow } from '../../src/modules/activity/activity.table.js';
import { newId } from '../../src/shared/ids.js';
import { freshDatabaseUrl, refuseInserts } from '../harness/database.js';

/**
 * The activity writer's batch insert: every row lands exactly once, with every
 * column in its place, whatever the batch size; its cost in statements stays a
 * small constant per 256 rows, and it needs only a few distinct statements,
 * which the database's statement cache keeps prepared.
 */
let handle: DatabaseHandle;
beforeAll(async () => {
  handle = await connectDatabase({ url: await freshDatabaseUrl(), poolSize: 2 });
  await migrateToLatest(handle.db);
});
afterAll(() => handle?.close());

let seq = 0;
function event(): ActivityEventRow {
  const n = seq++;
  return {
    id: newId('act'),
    account_id: n % 3 ? `acc_${String(n).padStart(26, '0')}` : null,
    environment_id: n % 3 ? `env_${String(n).padStart(26, '0')}` : null,
    action: `Action ${n}`,
    field: `field${n}`,
    operation_type: n % 2 ? 'query' : 'mutation',
    outcome: (['SUCCESS', 'DENIED', 'ERROR'] as const)[n % 3]!,
    error_code: n % 3 === 0 ? null : `CODE_${n}`,
    actor_type: n % 2 ? 'API_KEY' : 'USER',
    actor_id: n % 5 ? `key_${String(n).padStart(26, '0')}` : null,
    actor_name: `Actor ${n}`,
    api_key_id: n % 2 ? `key_${String(n).padStart(26, '0')}` : null,
    request_id: `req-${n}`,
    created_at: new Date(Date.UTC(2026, 10, 28, 12, 0, 0, n)).toISOString(),
  };
}

const stored = async (ids: string[]) =>
  (await handle.db.selectFrom('activity_events').selectAll().where('id', 'in', ids).orderBy('id').execute()).map((r) => ({
    ...r,
    created_at: new Date(r.created_at).toISOString(),
  }));

/** Statements a batch may cost per 256 rows: a small constant, whatever the batch size. */
const STATEMENTS_PER_256_ROWS = 8;

describe('insertActivityEvents', () => {
  // 5,000 rows carry 70,000 parameters: more than one statement may bind on either database.
  for (const size of [1, 3, 200, 513, 5000]) {
    it(`stores a batch of ${size} exactly, every column in its place, in at most ${STATEMENTS_PER_256_ROWS} statements per 256 rows`, async () => {
      const rows = Array.from({ length: size }, event);
      const before = handle.stats.statements;
      await insertActivityEvents(handle.db, rows);
      const statements = handle.stats.statements - before;
      expect(statements).toBeGreaterThan(0);
      expect(statements).toBeLessThanOrEqual(STATEMENTS_PER_256_ROWS * Math.ceil(size / 256));
      const ids = rows.map((r) => r.id);
      expect(await stored(ids)).toEqual([...rows].sort((a, b) => (a.id < b.id ? -1 : 1)));
    });
  }

  // Every size from 1 to 40, and around the largest chunk.
  const SIZES = [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 100, 127, 200, 255, 256, 257, 300, 511];
  it('reuses a handful of distinct statements whatever the batch sizes, so the statement cache prepares each once', async () => {
    const texts = new Set<string>();
    const stop = handle.observe((sql) => texts.add(sql));
    try {
      for (const size of SIZES) await insertActivityEvents(handle.db, Array.from({ length: size }, event));
    } finally {
      stop();
    }
    // Far fewer statement texts than sizes: well within the cache (500 per database).
    expect(texts.size).toBeGreaterThan(0);
    expect(texts.size).toBeLessThanOrEqual(16);
  });

  it('is idempotent: writing a batch again (a retry) adds nothing and changes nothing', async () => {
    const rows = Array.from({ length: 37 }, event);
    await insertActivityEvents(handle.db, rows);
    const first = await stored(rows.map((r) => r.id));
    await insertActivityEvents(handle.db, [...rows.slice(10), ...Array.from({ length: 5 }, event)]);
    expect(await stored(rows.map((r) => r.id))).toEqual(first);
  });

  it('writes nothing for an empty batch', async () => {
    const before = handle.stats.statements;
    await insertActivityEvents(handle.db, []);
    expect(handle.stats.statements).toBe(before);
  });
});

describe('ActivityRecorder', () => {
  it('writes the rest of a batch when the database refuses one event, and counts the refused one instead of retrying it forever', async () => {
    const lift = await refuseInserts(handle.db, 'activity_events', 'field', 'poisoned');
    try {
      const recorder = new ActivityRecorder(handle.db, { logger: pino({ level: 'silent' }) });
      const rows = [event(), { ...event(), field: 'poisoned' }, event()];
      recorder.record(rows);
      await recorder.flush();
      expect((await stored(rows.map((r) => r.id))).map((r) => r.id)).toEqual([rows[0]!.id, rows[2]!.id].sort());
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
    const recorder = new ActivityRecorder(handle.db, { logger: pino({ level: 'silent' }) });
    const rows = Array.from({ length: 50 }, event);
    recorder.record(rows);
    void recorder.flush();
    // The batch has left the queue and is on its way to the database.
    while (recorder.depth > 0) await new Promise((resolve) => setImmediate(resolve));
    await recorder.close();
    expect(await stored(rows.map((r) => r.id))).toHaveLength(50);
  });
});
