/**
 * `npm run bench:keys`: the verified-key cache with many keys in use. A real
 * `keygate serve` (bin/keygate.js running the compiled bundle, its own
 * process) over a database holding 60,000 scoped keys, on SQLite and on
 * PostgreSQL. The same `viewer` request, authenticated by a key drawn at
 * random among the first 1,000 keys or among all 60,000, in alternated
 * rounds after one cold pass over every key; then once more with a cache
 * budget smaller than the keys in use. Reports req/s and their ratio,
 * latency, peak RSS (read from outside), and the cache's hits, keys and
 * estimated bytes (from /metrics). Writes bench/results/keys.json and
 * keys.md. Bounded: stops by itself.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { buildNodeBundle, SERVER_BUNDLE } from '../src/build.js';
import { connectDatabase } from '../src/database/connect.js';
import { digestKey, generateKeySecret } from '../src/modules/api-key/api-key.secret.js';
import type { ApiKeyTable } from '../src/modules/api-key/api-key.table.js';
import { newId } from '../src/shared/ids.js';
import { SecretBox } from '../src/shared/secret-box.js';
import { rssOf, startServe as startServeProcess } from './hostile.js';

const KEYS = 60_000;
const FEW = 1_000;
/** The budget of the last row: room for about a quarter of the keys in use. */
const SMALL_CACHE_MB = 16;
const CONNECTIONS = 32;
const WARMUP_S = 1;
const ROUND_S = 4;
const ROUNDS = 3;
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const METRICS_TOKEN = 'bench-keys';
const MB = 1024 * 1024;

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.join(here, '..');
const bin = path.join(root, 'bin/keygate.js');

/** What a run leaves behind if it is stopped: processes to end and schemas to drop. */
const running = new Set<ChildProcess>();
const schemas = new Set<Database>();

async function startServe(env: NodeJS.ProcessEnv) {
  const serving = await startServeProcess(env);
  running.add(serving.child);
  serving.child.once('exit', () => running.delete(serving.child));
  return serving;
}

interface Database {
  dialect: 'sqlite' | 'postgres';
  url: string;
  drop(): Promise<void>;
}

async function freshDatabase(dialect: Database['dialect'], dir: string): Promise<Database> {
  if (dialect === 'sqlite') return { dialect, url: `file:${dir}/keygate.db`, drop: async () => {} };
  const schema = `kg_bench_keys_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create schema ${schema}`);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const database: Database = {
    dialect,
    url: url.toString(),
    drop: async () => {
      schemas.delete(database);
      await admin(`drop schema if exists ${schema} cascade`);
    },
  };
  schemas.add(database);
  return database;
}

/** KEYS scoped keys with real secrets, inserted in bulk (issuing each through the service would take minutes). */
async function seedKeys(url: string, masterKey: Buffer, owner: { accountId: string; environmentId: string }): Promise<string[]> {
  const handle = await connectDatabase({ url, poolSize: 1 });
  const box = new SecretBox(masterKey);
  const secrets: string[] = [];
  const rows: ApiKeyTable[] = [];
  const now = new Date().toISOString();
  for (let i = 0; i < KEYS; i++) {
    const id = newId('key');
    const secret = generateKeySecret('server-');
    secrets.push(secret);
    rows.push({
      id,
      account_id: owner.accountId,
      environment_id: owner.environmentId,
      type: 'SCOPED',
      name: `bench ${i}`,
      description: null,
      digest: digestKey(secret),
      last4: secret.slice(-4),
      secret_encrypted: box.seal(secret, id),
      scopes: JSON.stringify(['customers:read', 'customers:write', 'subscriptions:read']),
      integration_id: null,
      created_at: now,
      created_by_type: 'SYSTEM',
      created_by_id: null,
      created_by_name: 'System',
      expires_at: null,
      revoked_at: null,
      rotated_from_id: null,
      rotated_to_id: null,
      last_used_at: null,
      deleted_at: null,
    });
  }
  try {
    await handle.db.transaction().execute(async (trx) => {
      for (let at = 0; at < rows.length; at += 500) {
        await trx
          .insertInto('api_keys')
          .values(rows.slice(at, at + 500))
          .execute();
      }
    });
  } finally {
    await handle.close();
  }
  return secrets;
}

interface CacheMetrics {
  keys: number;
  bytes: number;
  hits: number;
  misses: number;
}

async function cacheMetrics(url: URL): Promise<CacheMetrics> {
  const text = await (await fetch(new URL('/metrics', url), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  return {
    keys: value(/^keygate_key_cache_keys (\S+)$/m),
    bytes: value(/^keygate_key_cache_bytes (\S+)$/m),
    hits: value(/^keygate_key_cache_lookups_total\{result="hit"\} (\S+)$/m),
    misses: value(/^keygate_key_cache_lookups_total\{result="miss"\} (\S+)$/m),
  };
}

/** `viewer` with a key drawn by `pick` for every request. */
function viewerWith(pick: () => string): autocannon.Request {
  const body = JSON.stringify({ query: '{ viewer { kind permissions } }' });
  return {
    method: 'POST',
    path: '/graphql',
    body,
    setupRequest: (req: autocannon.Request) => ({
      ...req,
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-api-key': pick() },
    }),
  };
}

const randomOf = (secrets: readonly string[], count: number) => () => secrets[Math.floor(Math.random() * count)]!;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  hitRate: number;
  peakRss: number;
}

/** One measured load against a serving process: throughput, latency, the cache's hit rate and the peak RSS meanwhile. */
async function measure(
  child: ChildProcess,
  url: URL,
  request: autocannon.Request,
  limit: { seconds: number } | { amount: number },
): Promise<Load> {
  const before = await cacheMetrics(url);
  let peakRss = await rssOf(child.pid!);
  const sampler = setInterval(() => {
    rssOf(child.pid!).then(
      (rss) => (peakRss = Math.max(peakRss, rss)),
      () => {},
    );
  }, 100);
  const result = await autocannon({
    url: url.toString(),
    connections: CONNECTIONS,
    ...('seconds' in limit ? { duration: limit.seconds } : { amount: limit.amount }),
    requests: [request],
  });
  clearInterval(sampler);
  const after = await cacheMetrics(url);
  const hits = after.hits - before.hits;
  const lookups = hits + after.misses - before.misses;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.non2xx + result.errors,
    hitRate: lookups ? hits / lookups : 0,
    peakRss,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

interface Row {
  row: string;
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  cacheHitRate: number;
  peakRssMB: number;
  errors: number;
}

function summarise(row: string, loads: Load[]): Row {
  return {
    row,
    reqPerSec: Math.round(median(loads.map((l) => l.rps))),
    p50ms: median(loads.map((l) => l.p50)),
    p99ms: median(loads.map((l) => l.p99)),
    cacheHitRate: Number(median(loads.map((l) => l.hitRate)).toFixed(3)),
    peakRssMB: Math.round(Math.max(...loads.map((l) => l.peakRss)) / MB),
    errors: loads.reduce((n, l) => n + l.errors, 0),
  };
}

async function benchDialect(dialect: Database['dialect']) {
  const dir = mkdtempSync(path.join(tmpdir(), `keygate-bench-keys-${dialect}-`));
  const database = await freshDatabase(dialect, dir);
  const masterKey = randomBytes(32);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    KEYGATE_DATA_DIR: dir,
    DATABASE_URL: database.url,
    KEYGATE_MASTER_KEY: masterKey.toString('hex'),
    KEYGATE_SESSION_SECRET: randomBytes(32).toString('hex'),
    KEYGATE_METRICS_TOKEN: METRICS_TOKEN,
    LOG_LEVEL: 'warn',
    // Throughput of verification, not of the limiter.
    KEYGATE_RATE_LIMIT: '0',
    KEYGATE_FAILED_AUTH_LIMIT: '0',
    PORT: '0',
    HOST: '127.0.0.1',
  };
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bin, 'bootstrap', '--account', 'Keys', '--plan', 'SCALE', '--owner', 'keys@keygate.test', '--json'],
      { cwd: root, env },
    );
    const tenant = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const seedStarted = Date.now();
    const secrets = await seedKeys(database.url, masterKey, {
      accountId: tenant.account.id,
      environmentId: tenant.environments[0].id,
    });
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    console.log(`${dialect}: ${KEYS} keys seeded in ${seedSeconds.toFixed(1)} s`);

    const { child, url } = await startServe(env);
    const rssAtStart = await rssOf(child.pid!);
    // Every key once, in random order: every lookup a miss, and the cache filled.
    const order = [...secrets].sort(() => Math.random() - 0.5);
    let next = 0;
    const cold = await measure(
      child,
      url,
      viewerWith(() => order[next++ % order.length]!),
      { amount: KEYS },
    );
    const afterCold = await cacheMetrics(url);
    const rssAfterCold = await rssOf(child.pid!);
    console.log(
      `${dialect}: cold pass ${Math.round(cold.rps)} req/s; cache ${afterCold.keys} keys, ${(afterCold.bytes / MB).toFixed(1)} MB`,
    );

    const few = viewerWith(randomOf(secrets, FEW));
    const all = viewerWith(randomOf(secrets, KEYS));
    for (const request of [few, all]) await measure(child, url, request, { seconds: WARMUP_S });
    const loads = { few: [] as Load[], all: [] as Load[] };
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`${dialect}: round ${round}/${ROUNDS}…`);
      loads.few.push(await measure(child, url, few, { seconds: ROUND_S }));
      loads.all.push(await measure(child, url, all, { seconds: ROUND_S }));
    }
    const cache = await cacheMetrics(url);
    await stop(child);

    // Again with a budget for about a quarter of the keys in use.
    const small = await startServe({ ...env, KEYGATE_KEY_CACHE_MB: String(SMALL_CACHE_MB) });
    await measure(small.child, small.url, all, { seconds: 3 });
    const smallLoads: Load[] = [];
    for (let round = 1; round <= 2; round++) smallLoads.push(await measure(small.child, small.url, all, { seconds: ROUND_S }));
    const smallCache = await cacheMetrics(small.url);
    await stop(small.child);

    const rows = [
      summarise(`${FEW.toLocaleString('en')} keys in use`, loads.few),
      summarise(`${KEYS.toLocaleString('en')} keys in use`, loads.all),
      summarise(`${KEYS.toLocaleString('en')} keys in use, KEYGATE_KEY_CACHE_MB=${SMALL_CACHE_MB}`, smallLoads),
    ];
    return {
      dialect,
      seedSeconds: Number(seedSeconds.toFixed(1)),
      coldPass: { reqPerSec: Math.round(cold.rps), p99ms: cold.p99, errors: cold.errors },
      rssAtStartMB: Math.round(rssAtStart / MB),
      rssAfterColdPassMB: Math.round(rssAfterCold / MB),
      measuredBytesPerKey: Math.round((rssAfterCold - rssAtStart) / Math.max(1, afterCold.keys)),
      cache: { keys: cache.keys, estimatedMB: Number((cache.bytes / MB).toFixed(1)) },
      smallCache: { keys: smallCache.keys, estimatedMB: Number((smallCache.bytes / MB).toFixed(1)) },
      rows,
      ratio: Number((rows[1]!.reqPerSec / rows[0]!.reqPerSec).toFixed(3)),
    };
  } finally {
    // A round that failed leaves its server running: end it before its database goes.
    for (const child of running) child.kill('SIGKILL');
    await database.drop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresUp(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

function markdown(report: any): string {
  const lines = [
    `Key cache benchmark ${report.date} (Node ${report.machine.node}, ${report.machine.cpus} cores; \`keygate serve\` over ${KEYS.toLocaleString('en')} scoped keys; \`viewer\` with a random key per request; ${CONNECTIONS} connections, ${ROUNDS} alternated rounds of ${ROUND_S}s after a cold pass over every key; ${report.seconds}s in all)`,
    '',
    '| database | row | req/s (median) | p50 ms | p99 ms | cache hits | peak RSS MB | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...report.dialects.flatMap((d: any) =>
      d.rows.map(
        (r: Row) =>
          `| ${d.dialect} | ${r.row} | ${r.reqPerSec} | ${r.p50ms} | ${r.p99ms} | ${(r.cacheHitRate * 100).toFixed(1)} % | ${r.peakRssMB} | ${r.errors} |`,
      ),
    ),
    '',
    ...report.dialects.map(
      (d: any) =>
        `- ${d.dialect}: ${KEYS.toLocaleString('en')} keys run at ${(d.ratio * 100).toFixed(1)} % of the throughput of ${FEW.toLocaleString('en')} (target ≥ 90 %); ` +
        `the cold pass (every key read once) ${d.coldPass.reqPerSec} req/s; cache ${d.cache.keys} keys, ${d.cache.estimatedMB} MB estimated ` +
        `(RSS ${d.rssAtStartMB} → ${d.rssAfterColdPassMB} MB over the cold pass: ${d.measuredBytesPerKey} bytes per cached key measured from outside); ` +
        `with KEYGATE_KEY_CACHE_MB=${SMALL_CACHE_MB}: ${d.smallCache.keys} keys, ${d.smallCache.estimatedMB} MB; seeding took ${d.seedSeconds} s.`,
    ),
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const started = Date.now();
  // `keygate serve` runs the compiled bundle: build it, as `npm install` does.
  await buildNodeBundle(path.join(root, 'src/cli.ts'), SERVER_BUNDLE);
  const dialects = [await benchDialect('sqlite')];
  if (await postgresUp()) dialects.push(await benchDialect('postgres'));
  else console.log(`PostgreSQL not reachable at ${new URL(POSTGRES_URL).host}: SQLite only.`);
  const report = {
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length },
    settings: {
      keys: KEYS,
      few: FEW,
      connections: CONNECTIONS,
      roundSeconds: ROUND_S,
      rounds: ROUNDS,
      smallCacheMb: SMALL_CACHE_MB,
    },
    dialects,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const out = path.join(here, 'results');
  writeFileSync(path.join(out, 'keys.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(out, 'keys.md'), markdown(report));
  console.log(`\n${markdown(report)}`);
}

const deadline = setTimeout(async () => {
  console.error('Key cache benchmark exceeded 10 minutes; stopping.');
  for (const child of running) child.kill('SIGKILL');
  await Promise.all([...schemas].map((d) => d.drop().catch(() => {})));
  process.exit(1);
}, 600_000);
deadline.unref();
await main();
process.exit(0);
