import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActivityDocument, ViewerDocument } from '../../src/client/generated/graphql.js';
import { activityIdOf, bytesAtTime } from '../../src/modules/activity/activity.codec.js';
import { deleteAgedEvents, storedActivityEvents, writeActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { DAY } from '../../src/shared/clock.js';
import { dialect } from '../harness/database.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * Retention (issue 15): each plan's activity window holds for reads at once
 * (list and totals), the worker deletes what aged in bounded batches (and on
 * PostgreSQL drops whole days), never touches the window or the keys' audit
 * events, resumes after a failed pass, and pauses when the wall clock leaps.
 */
async function callViewer(t: TestKeygate, tenant: Tenant, times: number) {
  for (let i = 0; i < times; i++) {
    const { body } = await t.run(ViewerDocument, {}, { key: tenant.dev.fullAccessKey.secret });
    expect(body.errors).toBeUndefined();
  }
}

async function visible(t: TestKeygate, tenant: Tenant) {
  // A session of now (the manual clock moves by days, past the tenant's first token).
  const token = await t.keygate.deps.sessions.mint(tenant.owner.id, 3600);
  const { body } = await t.run(ActivityDocument, { environmentId: tenant.dev.id, first: 100 }, { token });
  expect(body.errors).toBeUndefined();
  return { total: body.data!.activity.totalCount, fields: body.data!.activity.edges.map((e) => e.node.field) };
}

const stored = (t: TestKeygate, tenant: Tenant) =>
  storedActivityEvents(t.keygate.deps.db, t.keygate.deps.database.dialect, tenant.dev.id);

const auditCount = async (t: TestKeygate, tenant: Tenant) =>
  (await t.keygate.deps.db.selectFrom('key_audit_events').select('id').where('environment_id', '=', tenant.dev.id).execute())
    .length;

describe(`activity retention (${dialect})`, () => {
  let t: TestKeygate;
  beforeAll(async () => {
    t = await startTestKeygate({}, { retention: { batchSize: 4 } });
  });

  it("hides events older than the plan's window at once, then deletes them in small batches, leaving the window and the audit log alone", async () => {
    const free = await seedTenant(t, { plan: 'FREE' });
    const growth = await seedTenant(t, { plan: 'GROWTH' });
    await callViewer(t, free, 11);
    await callViewer(t, growth, 11);
    const auditBefore = await auditCount(t, free);
    expect(auditBefore).toBeGreaterThan(0);
    t.clock.advance(8 * DAY);
    await callViewer(t, free, 3);
    // FREE keeps 7 days: the 11 old calls are gone from reads before anything is deleted (the read itself is one more event).
    const freeView = await visible(t, free);
    expect(freeView.total).toBe(3);
    expect(freeView.fields).toEqual(['viewer', 'viewer', 'viewer']);
    expect((await stored(t, free)).length).toBe(14);
    // GROWTH keeps 30: nothing hidden.
    expect((await visible(t, growth)).total).toBe(11);

    const statements: string[] = [];
    const stop = t.keygate.deps.database.observe((text) => {
      if (/^delete from "activity_events"/.test(text)) statements.push(text);
    });
    try {
      await t.keygate.deps.activityLog.worker.run();
    } finally {
      stop();
    }
    // 11 aged events of the FREE environment, 4 per statement: at least 3 statements.
    expect(statements.length).toBeGreaterThanOrEqual(3);
    const left = await stored(t, free);
    expect(left.length).toBe(4);
    expect(left.every((e) => e.timestamp.getTime() >= t.clock.now().getTime() - 7 * DAY)).toBe(true);
    expect((await visible(t, free)).total).toBe(4);
    // The GROWTH environment's 11 calls and its owner's read of them: all in its window.
    expect((await stored(t, growth)).length).toBe(12);
    expect(await auditCount(t, free)).toBe(auditBefore);
  });

  it('deletes a batch as exactly the oldest aged events of the one environment, never one at or after the cutoff', async () => {
    const a = await seedTenant(t, { plan: 'FREE' });
    const b = await seedTenant(t, { plan: 'FREE' });
    const { store } = t.keygate.deps.activityLog;
    const base = t.clock.now().getTime();
    const event = (environmentId: string, ms: number, i: number) => {
      const bytes = bytesAtTime(ms);
      bytes.writeUInt32BE(i, 12);
      return {
        id: activityIdOf(bytes),
        environmentId,
        timestamp: new Date(ms),
        field: 'viewer',
        operationType: 'query' as const,
        outcome: 'SUCCESS' as const,
        errorCode: null,
        actor: { type: 'SYSTEM' as const, id: null, displayName: 'System' },
        apiKeyId: null,
        requestId: `req-${i}`,
      };
    };
    // Ten events a minute apart in each environment; the cutoff falls on the seventh.
    await writeActivityEvents(store, [
      ...Array.from({ length: 10 }, (_, i) => event(a.dev.id, base + i * 60_000, i)),
      ...Array.from({ length: 10 }, (_, i) => event(b.dev.id, base + i * 60_000, 100 + i)),
    ]);
    const ref = (await store.refs.find(a.dev.id))!;
    const cutoff = base + 6 * 60_000;
    const minutesLeft = async (tenant: Tenant) =>
      (await storedActivityEvents(t.keygate.deps.db, store.dialect, tenant.dev.id)).map(
        (e) => (e.timestamp.getTime() - base) / 60_000,
      );
    expect(await deleteAgedEvents(store.db, store.dialect, ref, cutoff, 4)).toBe(4);
    expect(await minutesLeft(a)).toEqual([4, 5, 6, 7, 8, 9]);
    // Two aged events are left: the batch stops at the cutoff, the event on it stays.
    expect(await deleteAgedEvents(store.db, store.dialect, ref, cutoff, 4)).toBe(2);
    expect(await deleteAgedEvents(store.db, store.dialect, ref, cutoff, 4)).toBe(0);
    expect(await minutesLeft(a)).toEqual([6, 7, 8, 9]);
    expect(await minutesLeft(b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('resumes after a pass that failed: nothing of the window is lost and the aged events go on the next pass', async () => {
    const tenant = await seedTenant(t, { plan: 'FREE' });
    await callViewer(t, tenant, 5);
    t.clock.advance(8 * DAY);
    await callViewer(t, tenant, 2);
    await t.keygate.deps.activity.flush();
    const { db } = t.keygate.deps;
    const lift = await refuseDeletes(db);
    try {
      await t.keygate.deps.activityLog.worker.run();
      expect((await stored(t, tenant)).length).toBe(7);
    } finally {
      await lift();
    }
    await t.keygate.deps.activityLog.worker.run();
    expect((await stored(t, tenant)).length).toBe(2);
    expect((await visible(t, tenant)).total).toBe(2);
  });

  it('pauses deletion when the wall clock leaps ahead of the monotonic clock, instead of deleting the window', async () => {
    const leaping = await startTestKeygate({}, { retention: { monotonic: () => 0 } });
    const tenant = await seedTenant(leaping, { plan: 'FREE' });
    await leaping.keygate.deps.activityLog.worker.run();
    await callViewer(leaping, tenant, 3);
    await leaping.keygate.deps.activity.flush();
    leaping.clock.advance(400 * DAY);
    const { stats } = leaping.keygate.deps.activityLog.worker;
    const skipped = stats.skipped;
    await leaping.keygate.deps.activityLog.worker.run();
    expect(stats.skipped).toBe(skipped + 1);
    expect((await stored(leaping, tenant)).length).toBe(3);
  });

  it('deletes webhook events (and their deliveries) 30 days old once nothing of them is pending, and keeps the rest', async () => {
    const tenant = await seedTenant(t);
    const { db } = t.keygate.deps;
    const now = t.clock.now().getTime();
    const at = (daysAgo: number) => new Date(now - daysAgo * DAY).toISOString();
    await db
      .insertInto('webhook_endpoints')
      .values({
        id: 'whe_0000000000000000000000RETN',
        account_id: tenant.accountId,
        environment_id: tenant.dev.id,
        url: 'https://hooks.example.com/x',
        description: null,
        event_types: '[]',
        enabled: dialect === 'sqlite' ? 1 : true,
        secret_encrypted: 'sealed',
        previous_secret_encrypted: null,
        previous_secret_expires_at: null,
        created_at: at(40),
        updated_at: at(40),
      })
      .execute();
    const events = [
      ['wev_000000000000000000000OLDDONE', 31, 'SUCCEEDED'],
      ['wev_000000000000000000000OLDFAIL', 45, 'FAILED'],
      ['wev_00000000000000000000OLDPEND', 31, 'PENDING'],
      ['wev_000000000000000000000RECENT', 29, 'SUCCEEDED'],
    ] as const;
    for (const [id, daysAgo, status] of events) {
      await db
        .insertInto('webhook_events')
        .values({
          id,
          account_id: tenant.accountId,
          environment_id: tenant.dev.id,
          type: 'webhook.test',
          payload: '{}',
          dedupe_key: null,
          created_at: at(daysAgo),
        })
        .execute();
      await db
        .insertInto('webhook_deliveries')
        .values({
          id: id.replace('wev_', 'whd_'),
          event_id: id,
          endpoint_id: 'whe_0000000000000000000000RETN',
          environment_id: tenant.dev.id,
          status,
          attempts: 1,
          next_attempt_at: null,
          last_attempt_at: at(daysAgo),
          last_response_status: 200,
          last_error: null,
          claimed_by: null,
          claimed_until: null,
          created_at: at(daysAgo),
        })
        .execute();
    }
    await t.keygate.deps.activityLog.worker.run();
    const left = await db
      .selectFrom('webhook_events')
      .select('id')
      .where('environment_id', '=', tenant.dev.id)
      .orderBy('id')
      .execute();
    expect(left.map((e) => e.id)).toEqual(['wev_00000000000000000000OLDPEND', 'wev_000000000000000000000RECENT'].sort());
    const deliveries = await db
      .selectFrom('webhook_deliveries')
      .select('event_id')
      .where('environment_id', '=', tenant.dev.id)
      .execute();
    expect(deliveries.map((d) => d.event_id).sort()).toEqual(left.map((e) => e.id));
  });
});

/** Makes deletes of activity events fail (as an unavailable database would) until the returned function is called. */
async function refuseDeletes(db: TestKeygate['keygate']['deps']['db']): Promise<() => Promise<void>> {
  if (dialect === 'sqlite') {
    await sql`create trigger refuse_activity_deletes before delete on activity_events begin select raise(abort, 'storage away'); end`.execute(
      db,
    );
    return async () => void (await sql`drop trigger refuse_activity_deletes`.execute(db));
  }
  await sql
    .raw(
      `create function refuse_activity_deletes() returns trigger language plpgsql as $$ begin raise exception 'storage away'; end $$`,
    )
    .execute(db);
  await sql`create trigger refuse_activity_deletes before delete on activity_events for each row execute function refuse_activity_deletes()`.execute(
    db,
  );
  return async () => void (await sql`drop function refuse_activity_deletes() cascade`.execute(db));
}
