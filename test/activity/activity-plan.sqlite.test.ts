import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrator.js';
import { ActivityRefs } from '../../src/modules/activity/activity.refs.js';
import { type ActivityRead, listActivityEvents, writeActivityEvents } from '../../src/modules/activity/activity.repository.js';
import type { ActivityEvent, ActivityFilter } from '../../src/modules/activity/activity.table.js';
import { DAY } from '../../src/shared/clock.js';
import { ulidGenerator } from '../../src/shared/ids.js';
import { freshDatabaseUrl } from '../harness/database.js';

/**
 * SQLite plans without statistics, so the plan a page gets here is the one
 * it gets at any size: a filtered page must take its ids from the filter's
 * own index. Asked for whole rows in id order, SQLite walks the table's key
 * (environment, id) through the whole window instead, which bench/scale.ts
 * measured at 110 ms for a rare key among 1M events.
 */
const ENVIRONMENT = 'env_0000000000000000000000PLAN';
const BUSY = 'key_0000000000000000000000BUSY';
const RARE = 'key_0000000000000000000000RARE';
const NOW = Date.UTC(2026, 11, 2, 12);
let handle: DatabaseHandle;
let refs: ActivityRefs;

beforeAll(async () => {
  handle = await connectDatabase({ url: await freshDatabaseUrl() });
  await migrateToLatest(handle.db);
  refs = new ActivityRefs(handle.db);
  const ulid = ulidGenerator();
  const events: ActivityEvent[] = Array.from({ length: 600 }, (_, n) => {
    const key = n % 200 === 7 ? RARE : n % 10 === 9 ? null : BUSY;
    return {
      id: `act_${ulid(NOW - DAY + n * 60_000)}`,
      environmentId: ENVIRONMENT,
      timestamp: new Date(NOW - DAY + n * 60_000),
      field: 'viewer',
      operationType: 'query',
      outcome: n % 50 === 0 ? 'ERROR' : 'SUCCESS',
      errorCode: n % 50 === 0 ? 'INTERNAL' : null,
      actor: key ? { type: 'API_KEY', id: key, displayName: 'Key' } : { type: 'USER', id: null, displayName: 'ada@x.test' },
      apiKeyId: key,
      requestId: `r${n}`,
    };
  });
  await writeActivityEvents({ db: handle.db, dialect: 'sqlite', refs, partitions: null }, events);
});
afterAll(() => handle.close());

/** The query plan of every statement a page of this filter sends (the interned-text lookups aside). */
async function planOfPage(filter: Omit<ActivityFilter, 'environmentId'>): Promise<string[]> {
  const statements: [string, readonly unknown[]][] = [];
  const stop = handle.observe((sql, parameters) => statements.push([sql, parameters]));
  const read: ActivityRead = {
    db: handle.db,
    dialect: 'sqlite',
    refs,
    cutoffMs: NOW - 90 * DAY,
    filter: { environmentId: ENVIRONMENT, ...filter },
  };
  try {
    expect((await listActivityEvents(read, { size: 50, afterId: null })).length).toBeGreaterThan(0);
  } finally {
    stop();
  }
  const plan: string[] = [];
  for (const [sql, parameters] of statements.filter(([sql]) => sql.includes('from "activity_events"'))) {
    const { rows } = await handle.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${sql}`, [...parameters]),
    );
    plan.push(...rows.map((r) => r.detail));
  }
  return plan;
}

/** A walk of the environment's window in the table's own order (what a filtered page must not do). */
const WINDOW_WALK = /activity_events USING PRIMARY KEY \(environment=\? AND id>\?\)/;

describe('a filtered activity page on SQLite', () => {
  it.each([
    ['a rarely used key', { apiKeyId: RARE }, 'activity_events_key_idx'],
    ['a busy key', { apiKeyId: BUSY }, 'activity_events_key_idx'],
    ['an outcome other than SUCCESS', { outcome: 'ERROR' as const }, 'activity_events_outcome_idx'],
    ['an actor type other than API_KEY', { actorType: 'USER' as const }, 'activity_events_actor_idx'],
  ])('takes the page of %s from its index, then the rows by their key', async (_name, filter, index) => {
    const plan = await planOfPage(filter);
    expect(plan.some((step) => step.includes(`COVERING INDEX ${index}`))).toBe(true);
    expect(plan.some((step) => WINDOW_WALK.test(step))).toBe(false);
    expect(plan).toContain('SEARCH activity_events USING PRIMARY KEY (environment=? AND id=?)');
  });

  it('without a filter, reads the window newest first by the table key itself (its own index)', async () => {
    expect((await planOfPage({})).some((step) => WINDOW_WALK.test(step))).toBe(true);
  });
});
