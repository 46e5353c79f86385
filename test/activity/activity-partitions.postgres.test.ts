import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ActivityDocument, ViewerDocument } from '../../src/client/generated/graphql.js';
import { listPartitions } from '../../src/modules/activity/activity.partitions.js';
import { storedActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { DAY, HOUR } from '../../src/shared/clock.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * PostgreSQL keeps activity in daily partitions: a day is dropped whole once
 * it has aged for every environment in it (rows are deleted one by one only
 * from days shared with a longer window), interrupted drops are finished.
 */
async function callViewer(t: TestKeygate, tenant: Tenant, times: number) {
  for (let i = 0; i < times; i++) {
    const { body } = await t.run(ViewerDocument, {}, { key: tenant.dev.fullAccessKey.secret });
    expect(body.errors).toBeUndefined();
  }
}
const stored = (t: TestKeygate, tenant: Tenant) => storedActivityEvents(t.keygate.deps.db, 'postgres', tenant.dev.id);

/** The environment's activity as its owner reads it now: the total (counters) and the page. */
async function visible(t: TestKeygate, tenant: Tenant) {
  const token = await t.keygate.deps.sessions.mint(tenant.owner.id, 3600);
  const { body } = await t.run(ActivityDocument, { environmentId: tenant.dev.id, first: 100 }, { token });
  expect(body.errors).toBeUndefined();
  return { total: body.data!.activity.totalCount, events: body.data!.activity.edges.length };
}

describe('activity partitions (postgres)', () => {
  it('drops whole days older than the longest window, and keeps the days inside it', async () => {
    const t = await startTestKeygate({ activityRetentionDays: 2 });
    const tenant = await seedTenant(t);
    await callViewer(t, tenant, 3);
    t.clock.advance(DAY + HOUR);
    await callViewer(t, tenant, 2);
    t.clock.advance(2 * DAY);
    await callViewer(t, tenant, 1);
    await t.keygate.deps.activity.flush();
    const db = t.keygate.deps.db;
    const days = async () => (await listPartitions(db)).map((p) => p.name).sort();
    const before = await days();
    expect(before.length).toBeGreaterThanOrEqual(3);
    await t.keygate.deps.activityLog.worker.run();
    const after = await days();
    // The first day is wholly older than 2 days: dropped as a table; the later ones stay.
    expect(after).toEqual(before.slice(1));
    expect(t.keygate.deps.activityLog.worker.stats.partitionsDropped).toBe(1);
    expect((await stored(t, tenant)).map((e) => e.field)).toHaveLength(3);
  });

  it('drops a day whole once it has aged for every environment in it, and deletes row by row only in a day shared with a longer window', async () => {
    const t = await startTestKeygate();
    const free = await seedTenant(t, { plan: 'FREE' });
    const scale = await seedTenant(t, { plan: 'SCALE' });
    // 2026-06-01: both environments; 2026-06-02: the FREE one alone.
    await callViewer(t, free, 3);
    await callViewer(t, scale, 2);
    t.clock.advance(DAY);
    await callViewer(t, free, 4);
    // 2026-06-10 12:00: FREE keeps 7 days (from 06-03 12:00), SCALE 90.
    t.clock.advance(8 * DAY);
    await callViewer(t, free, 1);
    await t.keygate.deps.activity.flush();
    const db = t.keygate.deps.db;
    const days = async () => (await listPartitions(db)).map((p) => p.name).sort();
    expect(await days()).toEqual(expect.arrayContaining(['activity_events_p20260601', 'activity_events_p20260602']));

    const deletes: string[] = [];
    const stop = t.keygate.deps.database.observe((text) => {
      if (/^delete from "activity_events"/.test(text)) deletes.push(text);
    });
    try {
      await t.keygate.deps.activityLog.worker.run();
    } finally {
      stop();
    }
    const after = await days();
    // Only FREE events on 06-02: dropped as a table, 83 days before the longest window would drop it.
    expect(after).not.toContain('activity_events_p20260602');
    expect(t.keygate.deps.activityLog.worker.stats.partitionsDropped).toBe(1);
    // 06-01 holds SCALE events inside their window: kept, its FREE events deleted as rows.
    expect(after).toContain('activity_events_p20260601');
    expect(deletes.length).toBeGreaterThan(0);
    expect((await stored(t, free)).map((e) => e.timestamp.toISOString().slice(0, 10))).toEqual(['2026-06-10']);
    expect(await stored(t, scale)).toHaveLength(2);
    // The totals (counters) agree with the rows left: FREE's one call of today, SCALE's two of 06-01.
    expect(await visible(t, free)).toEqual({ total: 1, events: 1 });
    expect(await visible(t, scale)).toEqual({ total: 2, events: 2 });

    // A later pass looks at the held day no more until it can have aged for SCALE too.
    const probes: string[] = [];
    const stopProbes = t.keygate.deps.database.observe((text) => {
      if (/with recursive seen/.test(text)) probes.push(text);
    });
    try {
      await t.keygate.deps.activityLog.worker.run();
    } finally {
      stopProbes();
    }
    expect(probes).toEqual([]);
    expect(await days()).toContain('activity_events_p20260601');
  });

  it('finishes a drop a crash interrupted: a day detached but not dropped is dropped on the next pass', async () => {
    const t = await startTestKeygate({ activityRetentionDays: 1 });
    const tenant = await seedTenant(t);
    await callViewer(t, tenant, 2);
    await t.keygate.deps.activity.flush();
    const db = t.keygate.deps.db;
    const [first] = await listPartitions(db);
    await sql`alter table activity_events detach partition ${sql.id(first!.name)}`.execute(db);
    expect((await listPartitions(db)).find((p) => p.name === first!.name)?.attached).toBe(false);
    t.clock.advance(3 * DAY);
    await t.keygate.deps.activityLog.worker.run();
    expect((await listPartitions(db)).some((p) => p.name === first!.name)).toBe(false);
  });
});
