import { CompiledQuery } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrator.js';
import {
  type ActivityStore,
  activityStoreOf,
  countActivityEvents,
  listActivityEvents,
  writeActivityEvents,
} from '../../src/modules/activity/activity.repository.js';
import type { ActivityEvent, ActivityFilter } from '../../src/modules/activity/activity.table.js';
import { DAY, MINUTE } from '../../src/shared/clock.js';
import { ulidGenerator } from '../../src/shared/ids.js';
import { dialect, freshDatabaseUrl } from '../harness/database.js';

/**
 * Every filter of `activity` (key, outcome, actor type, since) is served by
 * an index or a bounded range, for its page and for its total: the plans of
 * the statements the repository sends, at a size where a full scan would
 * show, never scan the events or the counters whole.
 */
let handle: DatabaseHandle;
let store: ActivityStore;
const BUSY = 'env_000000000000000000000BUSY0';
const OTHER = 'env_000000000000000000000OTHER';
const BUSY_KEY = 'key_00000000000000000000BUSYK1';
const RARE_KEY = 'key_00000000000000000000RAREK1';
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const SIZE = 40_000;

function seed(environmentId: string, count: number): ActivityEvent[] {
  const ulid = ulidGenerator();
  return Array.from({ length: count }, (_, n) => {
    const at = NOW - 10 * DAY + Math.floor((n / count) * 10 * DAY);
    const user = n % 97 === 0;
    const key = user ? null : n % 2000 === 1 ? RARE_KEY : BUSY_KEY;
    return {
      id: `act_${ulid(at)}`,
      environmentId,
      timestamp: new Date(at),
      field: 'viewer',
      operationType: 'query',
      outcome: n % 53 === 0 ? 'ERROR' : n % 71 === 0 ? 'DENIED' : 'SUCCESS',
      errorCode: n % 53 === 0 ? 'INTERNAL' : null,
      actor: user
        ? { type: 'USER', id: 'usr_00000000000000000000000001', displayName: 'Ada' }
        : { type: 'API_KEY', id: key, displayName: 'Key' },
      apiKeyId: key,
      requestId: `r${n}`,
    };
  });
}

beforeAll(async () => {
  handle = await connectDatabase({ url: await freshDatabaseUrl(), poolSize: 2 });
  await migrateToLatest(handle.db);
  store = activityStoreOf(handle.db, handle.dialect);
  for (const [env, count] of [
    [BUSY, SIZE],
    [OTHER, SIZE / 2],
  ] as const) {
    const events = seed(env, count);
    for (let at = 0; at < events.length; at += 5000) await writeActivityEvents(store, events.slice(at, at + 5000));
  }
  await handle.db.executeQuery(CompiledQuery.raw(dialect === 'sqlite' ? 'analyze' : 'analyze activity_events, activity_counts'));
}, 120_000);
afterAll(() => handle?.close());

const FILTERS: Record<string, Omit<ActivityFilter, 'environmentId'>> = {
  'no filter': {},
  'a busy key': { apiKeyId: BUSY_KEY },
  'a rarely used key': { apiKeyId: RARE_KEY },
  'outcome ERROR': { outcome: 'ERROR' },
  'outcome DENIED': { outcome: 'DENIED' },
  'outcome SUCCESS': { outcome: 'SUCCESS' },
  'actor USER': { actorType: 'USER' },
  'actor API_KEY': { actorType: 'API_KEY' },
  'since, mid-minute': { sinceMs: NOW - 3 * DAY + 17 * MINUTE + 1234 },
  'a rarely used key since, mid-hour': { apiKeyId: RARE_KEY, sinceMs: NOW - 2 * DAY - 13 * MINUTE },
  'ERROR since a day ago': { outcome: 'ERROR', sinceMs: NOW - DAY + 1 },
};

/** The statements a call sends, with their parameters. */
async function statementsOf(call: () => Promise<unknown>): Promise<{ sql: string; parameters: readonly unknown[] }[]> {
  const seen: { sql: string; parameters: readonly unknown[] }[] = [];
  const stop = handle.observe((sql, parameters) => seen.push({ sql, parameters }));
  try {
    await call();
  } finally {
    stop();
  }
  return seen.filter((s) => /activity_(events|counts)/.test(s.sql));
}

/** The plan's lines (SQLite) or nodes (PostgreSQL), flattened. */
async function planOf(statement: { sql: string; parameters: readonly unknown[] }): Promise<string[]> {
  if (dialect === 'sqlite') {
    const { rows } = await handle.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${statement.sql}`, [...statement.parameters]),
    );
    return rows.map((r) => r.detail);
  }
  const { rows } = await handle.db.executeQuery<{ 'QUERY PLAN': unknown }>(
    CompiledQuery.raw(`explain (format json) ${statement.sql}`, [...statement.parameters]),
  );
  const nodes: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    nodes.push(
      `${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}`,
    );
    for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk((rows[0]!['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0]!.Plan);
  return nodes;
}

/**
 * A full scan, or (SQLite) a sort of what was found. PostgreSQL may sort rows
 * it found through an index when its statistics say they are few (a rare
 * outcome's bitmap scan): that is bounded by the matches, not the table.
 */
const fullScan = (line: string) =>
  dialect === 'sqlite'
    ? /^SCAN (activity_events|activity_counts)\b/.test(line) || /TEMP B-TREE/.test(line)
    : /^Seq Scan\b/.test(line);

describe(`activity query plans (${dialect}, ${SIZE + SIZE / 2} events)`, () => {
  for (const [name, filter] of Object.entries(FILTERS)) {
    it(`${name}: the page and the total use indexes, no full scan or sort`, async () => {
      const read = {
        db: handle.db,
        dialect: handle.dialect,
        refs: store.refs,
        cutoffMs: NOW - 30 * DAY,
        filter: { environmentId: BUSY, ...filter },
      };
      const page = await statementsOf(() => listActivityEvents(read, { size: 50, afterId: null }));
      const total = await statementsOf(() => countActivityEvents(read));
      expect(page.length).toBe(1);
      expect(total.length).toBeGreaterThan(0);
      for (const statement of [...page, ...total]) {
        const plan = await planOf(statement);
        expect(plan.length).toBeGreaterThan(0);
        expect(plan.filter(fullScan), `${statement.sql}\n${plan.join('\n')}`).toEqual([]);
      }
    });
  }
});
