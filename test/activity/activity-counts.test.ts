import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrator.js';
import {
  type ActivityRead,
  type ActivityStore,
  activityStoreOf,
  countActivityEvents,
  listActivityEvents,
  writeActivityEvents,
} from '../../src/modules/activity/activity.repository.js';
import { ActivityRetention } from '../../src/modules/activity/activity.retention.js';
import {
  ACTIVITY_OUTCOMES,
  type ActivityEvent,
  type ActivityFilter,
  type ActivityOutcome,
} from '../../src/modules/activity/activity.table.js';
import { ACTOR_TYPES, type ActorType } from '../../src/modules/audit/actor.js';
import { DAY, HOUR, MINUTE } from '../../src/shared/clock.js';
import { ulidGenerator } from '../../src/shared/ids.js';
import { dialect, freshDatabaseUrl } from '../harness/database.js';

/**
 * Totals from the counters are exact: for every filter of the contract
 * (key, outcome, actor type, since) and any retention cutoff, the count
 * equals a direct count of the events written, including `since` inside a
 * minute, inside an hour, on a day boundary (a partition boundary on
 * PostgreSQL) and before the cutoff; pages list exactly the matching events
 * of the window, newest first.
 */
let handle: DatabaseHandle;
let store: ActivityStore;
const ENVIRONMENTS = ['env_00000000000000000000COUNTA', 'env_00000000000000000000COUNTB'];
const KEYS = ['key_0000000000000000000000KEY1', 'key_0000000000000000000000KEY2', 'key_0000000000000000000000KEY3'];
/** Three days and a bit, crossing two day (partition) boundaries. */
const START = Date.UTC(2026, 10, 27, 22, 17, 13, 5);
const SPAN_MS = 3 * DAY + 5 * HOUR;
const events: ActivityEvent[] = [];

function seed(count: number): ActivityEvent[] {
  const ulid = ulidGenerator();
  // Deterministic spread: clustered in some minutes, sparse elsewhere, every combination present.
  return Array.from({ length: count }, (_, n) => {
    const at = START + Math.floor(((n * 7_349_837) % SPAN_MS) / (n % 5 === 0 ? 1 : 1000)) * (n % 5 === 0 ? 1 : 1000);
    const keyed = n % 4 !== 3;
    const actor: ActorType = keyed ? 'API_KEY' : n % 8 === 3 ? 'USER' : 'SYSTEM';
    return {
      id: `act_${ulid(at)}`,
      environmentId: ENVIRONMENTS[n % 2]!,
      timestamp: new Date(at),
      field: n % 3 ? 'viewer' : 'createCustomer',
      operationType: (n % 3 ? 'query' : 'mutation') as 'query' | 'mutation',
      outcome: ACTIVITY_OUTCOMES[(n * 7) % 3]!,
      errorCode: null,
      actor: { type: actor, id: keyed ? KEYS[n % 3]! : null, displayName: keyed ? `Key ${n % 3}` : 'Ada' },
      apiKeyId: keyed ? KEYS[n % 3]! : null,
      requestId: `r${n}`,
    };
  }).sort((a, b) => (a.id < b.id ? -1 : 1));
}

beforeAll(async () => {
  handle = await connectDatabase({ url: await freshDatabaseUrl(), poolSize: 2 });
  await migrateToLatest(handle.db);
  store = activityStoreOf(handle.db, handle.dialect);
  events.push(...seed(6000));
  // In several batches, some of them retried (as the recorder does after a lost answer).
  for (let at = 0; at < events.length; at += 700) {
    const batch = events.slice(at, at + 700);
    await writeActivityEvents(store, batch);
    if (at % 1400 === 0) await writeActivityEvents(store, batch.slice(100, 300));
  }
});
afterAll(() => handle?.close());

const matches = (e: ActivityEvent, filter: ActivityFilter, cutoffMs: number) =>
  e.environmentId === filter.environmentId &&
  e.timestamp.getTime() >= Math.max(cutoffMs, filter.sinceMs ?? 0) &&
  (!filter.apiKeyId || e.apiKeyId === filter.apiKeyId) &&
  (!filter.outcome || e.outcome === filter.outcome) &&
  (!filter.actorType || e.actor.type === filter.actorType);

const read = (filter: ActivityFilter, cutoffMs: number): ActivityRead => ({
  db: handle.db,
  dialect: handle.dialect,
  refs: store.refs,
  filter,
  cutoffMs,
});

const filters = fc.record({
  environmentId: fc.constantFrom(...ENVIRONMENTS),
  apiKeyId: fc.option(fc.constantFrom(...KEYS), { nil: undefined }),
  outcome: fc.option(fc.constantFrom<ActivityOutcome>(...ACTIVITY_OUTCOMES), { nil: undefined }),
  actorType: fc.option(fc.constantFrom<ActorType>(...ACTOR_TYPES), { nil: undefined }),
  // Anywhere in the span and a little beyond, to the millisecond, or on a minute, hour or day boundary.
  sinceMs: fc.option(
    fc.oneof(
      fc.integer({ min: START - HOUR, max: START + SPAN_MS + HOUR }),
      fc.integer({ min: 0, max: 80 }).map((m) => Math.floor(START / MINUTE) * MINUTE + m * 97 * MINUTE),
      fc.integer({ min: 0, max: 80 }).map((h) => Math.floor(START / HOUR) * HOUR + h * HOUR),
      fc.integer({ min: 0, max: 4 }).map((d) => Math.floor(START / DAY) * DAY + d * DAY),
    ),
    { nil: undefined },
  ),
});
const cutoffs = fc.integer({ min: 0, max: 90 }).map((h) => (h === 0 ? 0 : Math.floor(START / HOUR) * HOUR + h * HOUR));

describe(`activity totals (${dialect})`, () => {
  it('equal a direct count of the events written, for every filter, since and retention cutoff', async () => {
    await fc.assert(
      fc.asyncProperty(filters, cutoffs, async (filter, cutoffMs) => {
        const expected = events.filter((e) => matches(e, filter, cutoffMs)).length;
        expect(await countActivityEvents(read(filter, cutoffMs))).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('list the matching events of the window, newest first, page after page', async () => {
    await fc.assert(
      fc.asyncProperty(filters, cutoffs, async (filter, cutoffMs) => {
        const expected = events.filter((e) => matches(e, filter, cutoffMs)).reverse();
        const first = await listActivityEvents(read(filter, cutoffMs), { size: 50, afterId: null });
        expect(first.slice(0, 50)).toEqual(expected.slice(0, 50));
        expect(first.length > 50).toBe(expected.length > 50);
        if (expected.length > 50) {
          const second = await listActivityEvents(read(filter, cutoffMs), { size: 50, afterId: expected[49]!.id });
          expect(second.slice(0, 50)).toEqual(expected.slice(50, 100));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('count nothing, without reading events, for a key or environment no event names (another tenant, say)', async () => {
    const before = handle.stats.statements;
    expect(await countActivityEvents(read({ environmentId: 'env_0000000000000000000000NONE' }, 0))).toBe(0);
    expect(
      await countActivityEvents(read({ environmentId: ENVIRONMENTS[0]!, apiKeyId: 'key_00000000000000000000000NONE' }, 0)),
    ).toBe(0);
    expect(
      await listActivityEvents(read({ environmentId: ENVIRONMENTS[0]!, apiKeyId: 'key_00000000000000000000000NONE' }, 0), {
        size: 10,
        afterId: null,
      }),
    ).toEqual([]);
    // One lookup of the unknown text each (the known environment's id is cached).
    expect(handle.stats.statements - before).toBeLessThanOrEqual(4);
  });

  it("keep each plan's days (FREE 7, GROWTH 30, SCALE 90) on a whole hour, or the configured days for every plan", () => {
    const now = Date.UTC(2026, 11, 2, 13, 45, 10);
    const plans = new ActivityRetention();
    expect(plans.cutoffMs('FREE', now)).toBe(Date.UTC(2026, 10, 25, 13));
    expect(plans.cutoffMs('GROWTH', now)).toBe(Date.UTC(2026, 10, 2, 13));
    expect(plans.cutoffMs('SCALE', now)).toBe(Date.UTC(2026, 8, 3, 13));
    expect(plans.maxDays).toBe(90);
    const configured = new ActivityRetention(14);
    expect(configured.cutoffMs('FREE', now)).toBe(configured.cutoffMs('SCALE', now));
    expect(configured.cutoffMs('SCALE', now)).toBe(Date.UTC(2026, 10, 18, 13));
    expect(configured.maxDays).toBe(14);
  });
});
