import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../src/client/generated/graphql.js';
import { listPartitions } from '../../src/modules/activity/activity.partitions.js';
import { storedActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { DAY, HOUR } from '../../src/shared/clock.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/** PostgreSQL keeps activity in daily partitions: aged days are dropped whole, interrupted drops finished. */
async function callViewer(t: TestKeygate, tenant: Tenant, times: number) {
  for (let i = 0; i < times; i++) {
    const { body } = await t.run(ViewerDocument, {}, { key: tenant.dev.fullAccessKey.secret });
    expect(body.errors).toBeUndefined();
  }
}
const stored = (t: TestKeygate, tenant: Tenant) => storedActivityEvents(t.keygate.deps.db, 'postgres', tenant.dev.id);

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
