import { beforeAll, describe, expect, it } from 'vitest';
import { countKeys, listKeys } from '../../src/modules/api-key/api-key.repository.js';
import {
  type ApiKeyCategory,
  type ApiKeyStatus,
  EXPIRING_SOON_WINDOW_MS,
  keyCategory,
  keyStatus,
} from '../../src/modules/api-key/api-key.status.js';
import { DAY, HOUR } from '../../src/shared/clock.js';
import { insertKeyRows, type KeyRowSpec } from '../harness/key-rows.js';
import { seedTenant, startTestKeygate, type TestKeygate } from '../harness/keygate.js';

/**
 * The database's status filter (one indexed value per key, see STOPS_AT in
 * the repository) selects exactly the keys keyStatus() gives those statuses:
 * every set of statuses and categories, over keys at every boundary of the
 * clock (expiring at, just before and just after now and the end of the
 * expiring-soon window; revoked, and revoked at a time the clock has not
 * reached yet).
 */
let t: TestKeygate;
let environmentId: string;

beforeAll(async () => {
  t = await startTestKeygate();
  const tenant = await seedTenant(t);
  environmentId = tenant.dev.id;
  const now = t.clock.now().getTime();
  const at = (ms: number) => new Date(now + ms).toISOString();
  const soon = EXPIRING_SOON_WINDOW_MS;
  const expiries = [null, at(-DAY), at(-1), at(0), at(1), at(soon - 1), at(soon), at(soon + 1), at(30 * DAY)];
  const revocations = [null, at(-DAY), at(HOUR)];
  const specs: KeyRowSpec[] = [];
  for (const [i, expires_at] of expiries.entries()) {
    for (const [j, revoked_at] of revocations.entries()) {
      const type = (i + j) % 2 ? 'SCOPED' : 'INTEGRATION';
      specs.push({ type, expires_at, revoked_at }, { type, expires_at, revoked_at, deleted_at: at(-HOUR) });
    }
  }
  await insertKeyRows(t.keygate.deps.db, { accountId: tenant.accountId, environmentId }, specs);
});

const subsets = <T>(items: readonly T[]): T[][] =>
  items.reduce<T[][]>((all, item) => all.concat(all.map((s) => [...s, item])), [[]]);

describe('the status and category filters of apiKeys', () => {
  it('select exactly the listed keys keyStatus() and keyCategory() put in the chosen sets, and count them', async () => {
    const rows = await t.keygate.deps.db
      .selectFrom('api_keys')
      .select(['id', 'type', 'expires_at', 'revoked_at'])
      .where('environment_id', '=', environmentId)
      .where('deleted_at', 'is', null)
      .execute();
    expect(rows).toHaveLength(2 + 27);
    const now = t.clock.now();
    const tried = new Set<string>();
    for (const statuses of subsets<ApiKeyStatus>(['ACTIVE', 'EXPIRING_SOON', 'EXPIRED'])) {
      for (const categories of subsets<ApiKeyCategory>(['DEFAULT', 'SCOPED'])) {
        const filter = { environmentId, statuses, categories, now };
        const expected = rows
          .filter(
            (r) =>
              (statuses.length === 0 ||
                statuses.includes(keyStatus({ expiresAt: r.expires_at, revokedAt: r.revoked_at }, now))) &&
              (categories.length === 0 || categories.includes(keyCategory(r.type))),
          )
          .map((r) => r.id)
          .sort();
        const listed = (await listKeys(t.keygate.deps.db, filter, { size: 100, afterId: null })).map((k) => k.id);
        expect(listed, JSON.stringify({ statuses, categories })).toEqual(expected);
        expect(await countKeys(t.keygate.deps.db, filter)).toBe(expected.length);
        tried.add(`${statuses}|${categories}`);
      }
    }
    expect(tried.size).toBe(8 * 4);
  });
});
