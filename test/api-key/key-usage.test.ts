import { beforeAll, describe, expect, it } from 'vitest';
import { LAST_USED_PER_STATEMENT } from '../../src/modules/api-key/api-key.repository.js';
import { KeyUsageRecorder } from '../../src/modules/api-key/api-key.usage.js';
import { ManualClock } from '../../src/shared/clock.js';
import { insertKeyRows } from '../harness/key-rows.js';
import { seedTenant, startTestKeygate, type TestKeygate } from '../harness/keygate.js';

/**
 * `lastUsedAt` at scale: a flush writes any number of keys in one statement
 * per LAST_USED_PER_STATEMENT keys, and the recorder's memory stays bounded
 * with more distinct keys in use than it remembers.
 */
let t: TestKeygate;
let owner: { accountId: string; environmentId: string };
beforeAll(async () => {
  t = await startTestKeygate();
  const tenant = await seedTenant(t);
  owner = { accountId: tenant.accountId, environmentId: tenant.dev.id };
});

/** Fresh key rows (no one holds their secrets) in the tenant's Development environment. */
const fixtureKeys = (count: number) =>
  insertKeyRows(
    t.keygate.deps.db,
    owner,
    Array.from({ length: count }, () => ({})),
  );

const recorder = (clock: ManualClock, options: ConstructorParameters<typeof KeyUsageRecorder>[3] = {}) =>
  new KeyUsageRecorder(t.keygate.deps.db, t.keygate.deps.database.dialect, clock, {
    ...options,
    onError: (error) => {
      throw error;
    },
  });

const lastUsed = async (ids: string[]) =>
  new Map(
    (await t.keygate.deps.db.selectFrom('api_keys').select(['id', 'last_used_at']).where('id', 'in', ids).execute()).map((r) => [
      r.id,
      r.last_used_at && new Date(r.last_used_at).toISOString(),
    ]),
  );

/** The statements `work` sends to the database. */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const stop = t.keygate.deps.database.observe((sql) => seen.push(sql));
  try {
    await work();
  } finally {
    stop();
  }
  return seen;
}

describe('KeyUsageRecorder', () => {
  it('writes the last use of 500 keys in one statement, each key its own time', async () => {
    const ids = await fixtureKeys(500);
    const clock = new ManualClock('2026-06-02T08:00:00.000Z');
    const usage = recorder(clock);
    for (const [i, id] of ids.entries()) {
      if (i === 250) clock.advance(1500);
      usage.touch(id);
    }
    const statements = await statementsOf(() => usage.flush());
    expect(statements).toHaveLength(1);
    const stored = await lastUsed(ids);
    expect(ids.slice(0, 250).every((id) => stored.get(id) === '2026-06-02T08:00:00.000Z')).toBe(true);
    expect(ids.slice(250).every((id) => stored.get(id) === '2026-06-02T08:00:01.500Z')).toBe(true);
  });

  it(`splits a larger batch into statements of ${LAST_USED_PER_STATEMENT} keys, all of the same text`, async () => {
    const count = 2 * LAST_USED_PER_STATEMENT + 1;
    const ids = await fixtureKeys(count);
    const usage = recorder(new ManualClock('2026-06-02T09:00:00.000Z'));
    for (const id of ids) usage.touch(id);
    const statements = await statementsOf(() => usage.flush());
    expect(statements).toHaveLength(3);
    expect(new Set(statements).size).toBe(1);
    const stored = await lastUsed(ids);
    expect([...stored.values()].filter((at) => at === '2026-06-02T09:00:00.000Z')).toHaveLength(count);
  });

  it('never moves lastUsedAt back when an older use arrives after a newer one (another instance)', async () => {
    const [id] = await insertKeyRows(t.keygate.deps.db, owner, [{ last_used_at: '2026-06-02T10:00:00.000Z' }]);
    const late = recorder(new ManualClock('2026-06-02T09:59:00.000Z'));
    late.touch(id!);
    await late.flush();
    expect((await lastUsed([id!])).get(id!)).toBe('2026-06-02T10:00:00.000Z');
    const later = recorder(new ManualClock('2026-06-02T10:00:30.000Z'));
    later.touch(id!);
    await later.flush();
    expect((await lastUsed([id!])).get(id!)).toBe('2026-06-02T10:00:30.000Z');
  });

  it('remembers at most maxRemembered keys with ten times as many in use, and still writes every one of them', async () => {
    const ids = await fixtureKeys(1000);
    const clock = new ManualClock('2026-06-02T11:00:00.000Z');
    const usage = recorder(clock, { maxRemembered: 100 });
    for (const id of ids) usage.touch(id);
    expect(usage.remembered).toBe(100);
    await usage.flush();
    expect([...(await lastUsed(ids)).values()].every((at) => at === '2026-06-02T11:00:00.000Z')).toBe(true);

    // The keys it still remembers are not written again within the minute; after it, they are.
    clock.advance(30_000);
    for (const id of ids.slice(-100)) usage.touch(id);
    expect(await statementsOf(() => usage.flush())).toHaveLength(0);
    clock.advance(30_000);
    for (const id of ids.slice(-100)) usage.touch(id);
    expect(await statementsOf(() => usage.flush())).toHaveLength(1);
    expect((await lastUsed([ids.at(-1)!])).get(ids.at(-1)!)).toBe('2026-06-02T11:01:00.000Z');
  });

  it('writes at once when maxPending keys wait, without waiting for the timer', async () => {
    const ids = await fixtureKeys(20);
    const usage = recorder(new ManualClock('2026-06-02T12:00:00.000Z'), { maxPending: 20, flushEveryMs: 3_600_000 });
    const statements = await statementsOf(async () => {
      for (const id of ids) usage.touch(id);
      // The flush the twentieth use started; an empty flush after it adds nothing.
      await usage.flush();
    });
    expect(statements).toHaveLength(1);
    expect([...(await lastUsed(ids)).values()].every((at) => at === '2026-06-02T12:00:00.000Z')).toBe(true);
  });
});
