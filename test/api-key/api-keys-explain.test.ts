import { CompiledQuery, sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { countKeys, type KeyListFilter, listKeys } from '../../src/modules/api-key/api-key.repository.js';
import type { ApiKeyCategory, ApiKeyStatus } from '../../src/modules/api-key/api-key.status.js';
import { DAY, HOUR } from '../../src/shared/clock.js';
import { dialect } from '../harness/database.js';
import { insertKeyRows, type KeyRowSpec } from '../harness/key-rows.js';
import { seedTenant, startTestKeygate, type TestKeygate } from '../harness/keygate.js';

/**
 * Every filter of `apiKeys` is served by an index range of the environment,
 * never a scan of the table: the plans of the repository's own list and count
 * statements (captured as they run, not copied), at 20,000 keys in the
 * environment and as many in another. Twice: first as the rows were loaded,
 * before any ANALYZE (a SQLite file is never analysed, a PostgreSQL table not
 * before autovacuum first runs, if it runs), then after ANALYZE. A filter
 * that matches few keys reads them through the index made for it: the
 * category filter had three type ranges before, which without statistics
 * both planners passed over for a walk of the whole environment
 * (bench:scale measured 60 ms on SQLite, 94 on PostgreSQL at 100,000 keys).
 */
let t: TestKeygate;
let environmentId: string;
const KEYS = 20_000;

beforeAll(async () => {
  t = await startTestKeygate();
  const tenant = await seedTenant(t);
  environmentId = tenant.dev.id;
  const now = t.clock.now().getTime();
  const at = (ms: number) => new Date(now + ms).toISOString();
  // Per thousand keys: 50 revoked, 100 past their expiry, 5 expiring soon, 1 deleted integration key, the rest active.
  const specs: KeyRowSpec[] = Array.from({ length: KEYS }, (_, i) => {
    const r = i % 1000;
    if (r < 50) return { revoked_at: at(-DAY) };
    if (r < 150) return { expires_at: at(-HOUR * (1 + (i % 100))) };
    if (r < 155) return { expires_at: at(HOUR * (1 + (i % 48))) };
    if (r === 155) return { type: 'INTEGRATION', deleted_at: at(-HOUR) };
    return {};
  });
  const db = t.keygate.deps.db;
  await insertKeyRows(db, { accountId: tenant.accountId, environmentId }, specs);
  await insertKeyRows(db, { accountId: tenant.accountId, environmentId: tenant.prod.id }, specs);
});

/** The statement `work` sends, as sent. */
async function statementOf(work: () => Promise<unknown>): Promise<CompiledQuery> {
  const seen: CompiledQuery[] = [];
  const stop = t.keygate.deps.database.observe((text, parameters) => seen.push(CompiledQuery.raw(text, [...parameters])));
  try {
    await work();
  } finally {
    stop();
  }
  expect(seen).toHaveLength(1);
  return seen[0]!;
}

/** How a plan reads api_keys: each access with its index, its bound, and whether a LIMIT stops it. */
interface Access {
  how: 'SEARCH' | 'SCAN';
  index: string | null;
  /** The index range, when there is one (an equality on environment_id at least, for a bounded range). */
  range: string;
  underLimit: boolean;
}

async function accessesOf(statement: CompiledQuery): Promise<Access[]> {
  const db = t.keygate.deps.db;
  if (dialect === 'sqlite') {
    const plan = await db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${statement.sql}`, [...statement.parameters]),
    );
    return plan.rows
      .map((r) => /^(SEARCH|SCAN) api_keys(?: USING (?:COVERING )?INDEX (\w+))?(?: \((.*)\))?/.exec(r.detail))
      .filter((m) => m !== null)
      .map((m) => ({ how: m[1] as Access['how'], index: m[2] ?? null, range: m[3] ?? '', underLimit: false }));
  }
  const plan = await db.executeQuery<{ 'QUERY PLAN': unknown }>(
    CompiledQuery.raw(`explain (format json) ${statement.sql}`, [...statement.parameters]),
  );
  const raw = plan.rows[0]!['QUERY PLAN'];
  const root = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [{ Plan: PgNode }];
  const out: Access[] = [];
  const walk = (node: PgNode, underLimit: boolean) => {
    const limited = underLimit || node['Node Type'] === 'Limit';
    if (node['Relation Name'] === 'api_keys') {
      const bitmaps = node['Node Type'] === 'Bitmap Heap Scan' ? bitmapIndexScans(node) : [];
      out.push({
        how: node['Node Type'] === 'Seq Scan' ? 'SCAN' : 'SEARCH',
        index: node['Index Name'] ?? bitmaps.map((b) => b['Index Name']).join('+') ?? null,
        range: node['Index Cond'] ?? bitmaps.map((b) => b['Index Cond'] ?? '').join(' | '),
        underLimit: limited,
      });
    }
    for (const child of node.Plans ?? []) walk(child, limited);
  };
  walk(root[0].Plan, false);
  return out;
}

interface PgNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PgNode[];
}

const bitmapIndexScans = (node: PgNode): PgNode[] =>
  (node.Plans ?? []).flatMap((child) => (child['Node Type'] === 'Bitmap Index Scan' ? [child] : bitmapIndexScans(child)));

const boundedByEnvironment = (a: Access) => a.how === 'SEARCH' && /environment_id\s*=/.test(a.range);

/** The indexes led by (environment_id, category): the category's own, and the category with the status. */
const CATEGORY_LED = /^api_keys_category(_status)?_idx$/;

/** Each filter, and the index a filter that matches few keys must be read through (null: any range of the environment). */
const FILTERS: { name: string; categories?: ApiKeyCategory[]; statuses?: ApiKeyStatus[]; index: RegExp | null }[] = [
  { name: 'no filter', index: null },
  { name: 'DEFAULT (2 keys)', categories: ['DEFAULT'], index: CATEGORY_LED },
  { name: 'SCOPED', categories: ['SCOPED'], index: null },
  { name: 'both categories', categories: ['DEFAULT', 'SCOPED'], index: null },
  { name: 'ACTIVE', statuses: ['ACTIVE'], index: null },
  { name: 'EXPIRING_SOON (100 keys)', statuses: ['EXPIRING_SOON'], index: /^api_keys_(category_)?status_idx$/ },
  { name: 'EXPIRED (3,000 keys)', statuses: ['EXPIRED'], index: null },
  { name: 'ACTIVE or EXPIRING_SOON', statuses: ['ACTIVE', 'EXPIRING_SOON'], index: null },
  { name: 'EXPIRING_SOON or EXPIRED', statuses: ['EXPIRING_SOON', 'EXPIRED'], index: null },
  { name: 'ACTIVE or EXPIRED (two ranges)', statuses: ['ACTIVE', 'EXPIRED'], index: null },
  { name: 'every status', statuses: ['ACTIVE', 'EXPIRING_SOON', 'EXPIRED'], index: null },
  { name: 'DEFAULT and ACTIVE', categories: ['DEFAULT'], statuses: ['ACTIVE'], index: CATEGORY_LED },
  { name: 'DEFAULT and EXPIRED', categories: ['DEFAULT'], statuses: ['EXPIRED'], index: CATEGORY_LED },
  { name: 'DEFAULT and EXPIRING_SOON', categories: ['DEFAULT'], statuses: ['EXPIRING_SOON'], index: CATEGORY_LED },
  {
    name: 'SCOPED and EXPIRING_SOON',
    categories: ['SCOPED'],
    statuses: ['EXPIRING_SOON'],
    index: /^api_keys_category_status_idx$/,
  },
];

/** The plans of every filter, as the table's statistics stand when the suite runs. */
function everyFilter() {
  for (const f of FILTERS) {
    const filter = (): KeyListFilter => ({ environmentId, categories: f.categories, statuses: f.statuses, now: t.clock.now() });

    it(`${f.name}: totalCount counts in an index range of the environment${f.index ? `, through ${f.index.source}` : ''}`, async () => {
      const accesses = await accessesOf(await statementOf(() => countKeys(t.keygate.deps.db, filter())));
      expect(accesses.length).toBeGreaterThan(0);
      for (const access of accesses) {
        expect(access, JSON.stringify(access)).toSatisfy(boundedByEnvironment);
        if (f.index) expect(access.index).toMatch(f.index);
      }
    });

    it(`${f.name}: the first page reads an index, a range of the environment or a walk in creation order that the page stops`, async () => {
      const accesses = await accessesOf(
        await statementOf(() => listKeys(t.keygate.deps.db, filter(), { size: 50, afterId: null })),
      );
      expect(accesses.length).toBeGreaterThan(0);
      for (const access of accesses) {
        expect(access.how, JSON.stringify(access)).toBe('SEARCH');
        expect(access.index, JSON.stringify(access)).not.toBeNull();
        expect(boundedByEnvironment(access) || access.underLimit, JSON.stringify(access)).toBe(true);
        if (f.index) expect(access.index).toMatch(f.index);
      }
    });
  }
}

describe(`apiKeys filters at ${KEYS.toLocaleString('en')} keys (${dialect})`, () => {
  describe('before any ANALYZE: the planner knows nothing of the rows', () => {
    it('the table has no planner statistics yet', async () => {
      const db = t.keygate.deps.db;
      if (dialect === 'sqlite') {
        const { rows } = await sql<{ n: number }>`select count(*) as n from sqlite_schema where name = 'sqlite_stat1'`.execute(
          db,
        );
        expect(Number(rows[0]!.n)).toBe(0);
      } else {
        const { rows } = await sql<{ n: string }>`
          select count(*) as n from pg_stats where schemaname = current_schema() and tablename = 'api_keys'`.execute(db);
        expect(Number(rows[0]!.n)).toBe(0);
      }
    });
    everyFilter();
  });

  describe('after ANALYZE', () => {
    beforeAll(async () => {
      await sql.raw(dialect === 'postgres' ? 'vacuum analyze api_keys' : 'analyze').execute(t.keygate.deps.db);
    });
    everyFilter();
  });

  it('finds the two default keys among 20,000 and counts them exactly, alone and with each status', async () => {
    const db = t.keygate.deps.db;
    const filter = { environmentId, categories: ['DEFAULT' as const], now: t.clock.now() };
    expect(await countKeys(db, filter)).toBe(2);
    expect((await listKeys(db, filter, { size: 50, afterId: null })).map((k) => k.type).sort()).toEqual([
      'FULL_ACCESS',
      'PUBLISHABLE',
    ]);
    expect(await countKeys(db, { ...filter, statuses: ['ACTIVE'] })).toBe(2);
    expect(await countKeys(db, { ...filter, statuses: ['EXPIRED', 'EXPIRING_SOON'] })).toBe(0);
    // The deleted integration keys are DEFAULT too, and listed nowhere.
    expect(await countKeys(db, { ...filter, categories: ['DEFAULT', 'SCOPED'] })).toBe(KEYS - KEYS / 1000 + 2);
    expect(await countKeys(db, { ...filter, categories: ['SCOPED'], statuses: ['EXPIRING_SOON'] })).toBe((KEYS / 1000) * 5);
  });
});
