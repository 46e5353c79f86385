/**
 * `npm run bench:scale`: the activity log at gateway scale (issue 15). A real
 * `keygate serve` (bin/keygate.js running the compiled bundle, its own
 * process, NODE_ENV=production) over one database grown from 10,000 to
 * 1,000,000 to 5,000,000 events (and 100,000 keys), on SQLite and on
 * PostgreSQL. At each size, each query of the issue's table over HTTP,
 * median of 20 after warm-up; the growth 5M / 10k; bytes per event
 * (dbstat / pg_total_relation_size over every activity table and index);
 * and at 5M, a `viewer` stream's latency while the serving process's own
 * retention worker deletes aged events, against the same stream with
 * nothing to delete. Writes bench/results/scale.json and scale.md.
 * Bounded: stops by itself (30 minutes at most).
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import pg from 'pg';
import { buildNodeBundle, SERVER_BUNDLE } from '../src/build.js';
import { connectDatabase, type DatabaseHandle } from '../src/database/connect.js';
import { activityIdOf, bytesAtTime, idCodec } from '../src/modules/activity/activity.codec.js';
import { listPartitions } from '../src/modules/activity/activity.partitions.js';
import { activityStoreOf, writeActivityEvents } from '../src/modules/activity/activity.repository.js';
import { RETENTION_DAYS } from '../src/modules/activity/activity.retention.js';
import type { ActivityEvent, ActivityOutcome } from '../src/modules/activity/activity.table.js';
import { digestKey, generateKeySecret } from '../src/modules/api-key/api-key.secret.js';
import type { ApiKeyTable } from '../src/modules/api-key/api-key.table.js';
import type { ActorType } from '../src/modules/audit/actor.js';
import { DAY } from '../src/shared/clock.js';
import { newId } from '../src/shared/ids.js';
import { SecretBox } from '../src/shared/secret-box.js';
import { startServe as startServeProcess } from './hostile.js';

/** Sizes the one database is grown through; the growth ratio is the last over the first. */
const SIZES = [10_000, 1_000_000, 5_000_000];
const KEYS = 100_000;
/** The events span this many days up to now (inside the SCALE plan's 90), at a constant rate. */
const SPAN_DAYS = 3;
/** Events of the rare key at the first size, and added at each later one: a few dozen at every size. */
const RARE_FIRST = 40;
const RARE_LATER = 10;
/** Keys other than the busy and the rare one that events name. */
const OTHER_KEYS = 200;
/** Events per call of the repository's write path (one transaction each). */
const SEED_BATCH = 10_000;
const SAMPLES = 20;
const WARMUP = 3;
/**
 * Aged events (older than a FREE account's 7 days) for the retention
 * measurement: enough that deletion outlasts the measured stream at each
 * dialect's delete rate (about 250k rows/s on SQLite, 15k on PostgreSQL).
 */
const AGED: Record<Database['dialect'], number> = { sqlite: 1_500_000, postgres: 400_000 };
/** Events of the SCALE environment in the aged days, when they share those days (PostgreSQL's row-by-row case). */
const SHARED_EVENTS = 48;
const STREAM_CONNECTIONS = 8;
const STREAM_S = 6;
/** This machine's peak rate (bench/results/latest.md), for the retention budget line. */
const PEAK_CALLS_PER_S = 4_000;
/** Targets of issue 15. */
const TARGET_MS = 20;
const TARGET_GROWTH = 2;
const TARGET_BYTES = 250;
const TARGET_P99_MS = 5;
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
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

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

interface Database {
  dialect: 'sqlite' | 'postgres';
  url: string;
  drop(): Promise<void>;
}

async function freshDatabase(dialect: Database['dialect'], dir: string): Promise<Database> {
  if (dialect === 'sqlite') return { dialect, url: `file:${dir}/keygate.db`, drop: async () => {} };
  const schema = `kg_bench_scale_${randomBytes(4).toString('hex')}`;
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(text);
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

/** KEYS scoped keys with real secrets, inserted in bulk like bench/keys.ts; returns their ids in order. */
async function seedKeys(handle: DatabaseHandle, masterKey: Buffer, owner: { accountId: string; environmentId: string }) {
  const box = new SecretBox(masterKey);
  const ids: string[] = [];
  const now = new Date().toISOString();
  await handle.db.transaction().execute(async (trx) => {
    for (let at = 0; at < KEYS; at += 1000) {
      const rows: ApiKeyTable[] = [];
      for (let i = at; i < Math.min(KEYS, at + 1000); i++) {
        const id = newId('key');
        const secret = generateKeySecret('server-');
        ids.push(id);
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
          scopes: JSON.stringify(['customers:read', 'subscriptions:read']),
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
      for (let r = 0; r < rows.length; r += 500)
        await trx
          .insertInto('api_keys')
          .values(rows.slice(r, r + 500))
          .execute();
    }
  });
  return ids;
}

/** Root fields events name, with their operation type. */
const FIELDS: [string, 'query' | 'mutation'][] = [
  ['customer', 'query'],
  ['customers', 'query'],
  ['subscriptions', 'query'],
  ['viewer', 'query'],
  ['createCustomer', 'mutation'],
  ['updateCustomer', 'mutation'],
  ['createSubscription', 'mutation'],
];

interface Population {
  environmentId: string;
  busyKey: string;
  rareKey: string;
  otherKeys: string[];
  users: { id: string; name: string }[];
}

/**
 * `count` events evenly spread from `fromMs` to `toMs`, oldest first (traffic
 * appends in time order): the rare key's `rare` at regular places, the busy
 * key about 80 % of the rest, other keys 14 %, users 5 %, the system 1 %;
 * about 2 % ERROR and 1 % DENIED.
 */
function* eventsOf(p: Population, count: number, fromMs: number, toMs: number, rare: number): Generator<ActivityEvent> {
  const step = (toMs - fromMs) / count;
  const rareEvery = rare ? Math.floor(count / rare) : Number.POSITIVE_INFINITY;
  const pool = Buffer.alloc(10 * 4096);
  for (let i = 0; i < count; i++) {
    const ms = Math.floor(fromMs + i * step);
    const bytes = bytesAtTime(ms);
    // The id's random part, from a refilled pool (one CSPRNG call per 4,096 ids).
    if (i % 4096 === 0) randomFillSync(pool);
    pool.copy(bytes, 6, (i % 4096) * 10, (i % 4096) * 10 + 10);
    const roll = Math.random();
    let actorType: ActorType = 'API_KEY';
    let actor: { id: string | null; displayName: string };
    let apiKeyId: string | null;
    if (i % rareEvery === rareEvery - 1 && i < rare * rareEvery) {
      apiKeyId = p.rareKey;
      actor = { id: p.rareKey, displayName: 'rare key' };
    } else if (roll < 0.8) {
      apiKeyId = p.busyKey;
      actor = { id: p.busyKey, displayName: 'busy key' };
    } else if (roll < 0.94) {
      apiKeyId = p.otherKeys[i % p.otherKeys.length]!;
      actor = { id: apiKeyId, displayName: `key ${i % p.otherKeys.length}` };
    } else if (roll < 0.99) {
      const user = p.users[i % p.users.length]!;
      actorType = 'USER';
      apiKeyId = null;
      actor = { id: user.id, displayName: user.name };
    } else {
      actorType = 'SYSTEM';
      apiKeyId = null;
      actor = { id: null, displayName: 'System' };
    }
    const outcomeRoll = Math.random();
    const outcome: ActivityOutcome = outcomeRoll < 0.02 ? 'ERROR' : outcomeRoll < 0.03 ? 'DENIED' : 'SUCCESS';
    const [field, operationType] = FIELDS[i % FIELDS.length]!;
    yield {
      id: activityIdOf(bytes),
      environmentId: p.environmentId,
      timestamp: new Date(ms),
      field,
      operationType,
      outcome,
      errorCode:
        outcome === 'ERROR' ? (i % 2 ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT') : outcome === 'DENIED' ? 'FORBIDDEN' : null,
      actor: { type: actorType, ...actor },
      apiKeyId,
      requestId: randomUUID(),
    };
  }
}

/** Writes events through the repository's own write path (events, interned texts and counters), a batch per transaction. */
async function writeAll(handle: DatabaseHandle, events: Iterable<ActivityEvent>): Promise<number> {
  const store = activityStoreOf(handle.db, handle.dialect);
  let batch: ActivityEvent[] = [];
  let written = 0;
  for (const event of events) {
    batch.push(event);
    if (batch.length === SEED_BATCH) {
      written += await writeActivityEvents(store, batch);
      batch = [];
    }
  }
  written += await writeActivityEvents(store, batch);
  return written;
}

/** What autovacuum does after a bulk load on PostgreSQL (visibility map and planner statistics); nothing on SQLite. */
async function settle(handle: DatabaseHandle): Promise<void> {
  if (handle.dialect === 'postgres')
    await sql`vacuum (analyze) activity_events, activity_counts, activity_refs`.execute(handle.db);
}

/** Bytes of every activity table and index, and the number of stored events. */
async function activityBytes(handle: DatabaseHandle): Promise<{ bytes: number; events: number }> {
  const { count } = await handle.db
    .selectFrom('activity_events')
    .select(sql<number | string>`count(*)`.as('count'))
    .executeTakeFirstOrThrow();
  if (handle.dialect === 'sqlite') {
    const { rows } = await sql<{ bytes: number }>`
      select sum(pgsize) as bytes from dbstat
      where name like 'activity%' or name in (select name from sqlite_schema where tbl_name like 'activity%')`.execute(handle.db);
    return { bytes: Number(rows[0]!.bytes), events: Number(count) };
  }
  const { rows } = await sql<{ bytes: string }>`
    select sum(pg_total_relation_size(c.oid)) as bytes from pg_class c
    where c.relnamespace = current_schema()::regnamespace and c.relkind = 'r'
      and (c.relname like 'activity_events_p%' or c.relname in ('activity_counts', 'activity_refs'))`.execute(handle.db);
  return { bytes: Number(rows[0]!.bytes), events: Number(count) };
}

/** One kept-alive connection, as a client of a gateway keeps one (a new connection per query would be measured too). */
const client = new Agent({ keepAlive: true, maxSockets: 1 });

async function graphql(url: URL, key: string, query: string): Promise<any> {
  const payload = JSON.stringify({ query });
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: '/graphql',
        method: 'POST',
        agent: client,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(payload),
          'x-api-key': key,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  const body = JSON.parse(text) as { data?: any; errors?: unknown[] };
  if (status !== 200 || body.errors) throw new Error(`${query}: HTTP ${status} ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A fresh process's code is not yet optimised: every query is asked this many times before any is timed. */
const PROCESS_WARMUP = 30;

const NODE = 'edges { node { id timestamp action field outcome errorCode actor { type displayName } requestId } }';

/** The issue's table. */
function queriesOf(p: Population): { name: string; query: string }[] {
  const activity = (filter: string, total: boolean) =>
    `{ activity(first: 50${filter ? `, filter: { ${filter} }` : ''}) { ${NODE}${total ? ' totalCount' : ''} } }`;
  return [
    { name: 'activity(first: 50)', query: activity('', false) },
    { name: '+ totalCount', query: activity('', true) },
    { name: 'rare key', query: activity(`apiKeyId: "${p.rareKey}"`, false) },
    { name: 'rare key + totalCount', query: activity(`apiKeyId: "${p.rareKey}"`, true) },
    { name: 'busy key + totalCount', query: activity(`apiKeyId: "${p.busyKey}"`, true) },
    { name: 'outcome ERROR + totalCount', query: activity('outcome: ERROR', true) },
    {
      name: `apiKeys DEFAULT + totalCount (${KEYS.toLocaleString('en')} keys)`,
      query: '{ apiKeys(first: 50, filter: { categories: [DEFAULT] }) { edges { node { id name } } totalCount } }',
    },
  ];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Sequential requests, one at a time: the median of SAMPLES after WARMUP. */
async function timeQuery(url: URL, key: string, query: string): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await graphql(url, key, query);
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await graphql(url, key, query);
    times.push(performance.now() - started);
  }
  return Number(median(times).toFixed(2));
}

/**
 * totalCount over HTTP against a direct count(*) of the rows, for the busy
 * key and for ERROR (the bench's own requests, which add events meanwhile,
 * are neither): the seeded counters must agree with the rows.
 */
async function checkTotals(handle: DatabaseHandle, url: URL, key: string, p: Population, environment: number) {
  const refs = activityStoreOf(handle.db, handle.dialect).refs;
  const busy = (await refs.find(p.busyKey))!;
  const checks = [
    { filter: `apiKeyId: "${p.busyKey}"`, where: sql`api_key = ${busy}` },
    { filter: 'outcome: ERROR', where: sql`outcome = 3` },
    { filter: `apiKeyId: "${p.rareKey}"`, where: sql`api_key = ${(await refs.find(p.rareKey))!}` },
  ];
  const out: Record<string, number> = {};
  for (const check of checks) {
    const data = await graphql(url, key, `{ activity(first: 1, filter: { ${check.filter} }) { totalCount } }`);
    const { rows } = await sql<{ n: number | string }>`
      select count(*) as n from activity_events where environment = ${environment} and ${check.where}`.execute(handle.db);
    const direct = Number(rows[0]!.n);
    if (data.activity.totalCount !== direct)
      throw new Error(`totalCount over HTTP ${data.activity.totalCount} ≠ count(*) ${direct} for ${check.filter}`);
    out[check.filter.split(':')[0]!] = direct;
  }
  return out;
}

interface Stream {
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  seconds: number;
}

/** `viewer` at STREAM_CONNECTIONS in flight for up to `seconds`, or until `until` resolves. */
async function viewerStream(url: URL, key: string, seconds: number, until?: Promise<unknown>): Promise<Stream> {
  const started = performance.now();
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: url.toString(),
        connections: STREAM_CONNECTIONS,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/graphql',
            headers: { 'content-type': 'application/json', accept: 'application/json', 'x-api-key': key },
            body: JSON.stringify({ query: '{ viewer { kind permissions } }' }),
          },
        ],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  void until?.then(() => instance?.stop());
  const result = await finished;
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.non2xx + result.errors,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How often the retention measurement looks at the oldest aged event. */
const POLL_S = 0.1;

/**
 * The serving process's own retention worker (first pass 10 s after start)
 * deleting `aged` events of a FREE account while a `viewer` stream runs,
 * against the same stream before the pass and after deletion is done. The
 * stream "during" starts before the pass and lasts until deletion is done,
 * STREAM_S at least, so a pass shorter than a stream (days dropped whole)
 * is inside it too.
 */
async function measureRetention(
  handle: DatabaseHandle,
  env: NodeJS.ProcessEnv,
  key: string,
  agedEnvironment: number,
  aged: number,
) {
  const oldest = async () => {
    const { rows } = await sql<{ id: unknown }>`
      select id from activity_events where environment = ${agedEnvironment} order by id limit 1`.execute(handle.db);
    const id = rows[0]?.id;
    return id == null
      ? null
      : String(
          idCodec(handle.dialect)
            .decode(id as string)
            .toString('hex'),
        );
  };
  const remaining = async () => {
    const { rows } = await sql<{ n: number | string }>`
      select count(*) as n from activity_events where environment = ${agedEnvironment}`.execute(handle.db);
    return Number(rows[0]!.n);
  };
  const first = await oldest();
  const { child, url } = await startServe(env);
  const ready = performance.now();
  // The oldest aged event, polled every 100 ms through every phase alike (the same load on each).
  let latest: string | null = first;
  let deletionStarted: number | null = null;
  let deletionEnded: number | null = null;
  let polling = true;
  const poller = (async () => {
    while (polling && performance.now() - ready < 180_000) {
      latest = await oldest();
      if (latest !== first) deletionStarted ??= performance.now();
      if (latest === null) deletionEnded ??= performance.now();
      await sleep(POLL_S * 1000);
    }
  })();
  const until = async (done: () => boolean, boundMs: number) => {
    while (!done() && performance.now() - ready < boundMs) await sleep(50);
  };
  try {
    await viewerStream(url, key, 1);
    const before = await viewerStream(url, key, STREAM_S);
    const untouched = deletionStarted === null;
    const partitionsBefore = handle.dialect === 'postgres' ? (await listPartitions(handle.db)).length : 0;
    // The first pass begins 10 s after start: the stream runs from before it until deletion is done (bounded).
    const duringStarted = performance.now();
    const during = await viewerStream(
      url,
      key,
      200,
      until(() => deletionEnded !== null && performance.now() - duringStarted >= STREAM_S * 1000, 180_000),
    );
    if (deletionStarted === null) throw new Error('the retention worker did not start deleting within the stream');
    const duringEnded = performance.now();
    const deletedDuring = aged - (await remaining());
    await until(() => deletionEnded !== null, 150_000);
    const deletionSeconds = ((deletionEnded ?? performance.now()) - deletionStarted) / 1000;
    const after = deletionEnded !== null ? await viewerStream(url, key, STREAM_S) : null;
    const partitionsAfter = handle.dialect === 'postgres' ? (await listPartitions(handle.db)).length : 0;
    return {
      agedEvents: aged,
      partitionsDropped: partitionsBefore - partitionsAfter,
      before: { ...before, nothingDeleted: untouched },
      during: {
        ...during,
        rowsDeleted: deletedDuring,
        rowsPerSecond: Math.round(deletedDuring / ((duringEnded - deletionStarted) / 1000)),
      },
      after,
      deletionSeconds: Number(deletionSeconds.toFixed(1)),
      // The oldest event is polled every 100 ms: a deletion shorter than that has no measurable rate.
      rowsPerSecond: deletionEnded !== null && deletionSeconds >= POLL_S ? Math.round(aged / deletionSeconds) : null,
      finished: deletionEnded !== null,
    };
  } finally {
    polling = false;
    await poller;
    await stop(child);
  }
}

async function benchDialect(dialect: Database['dialect']) {
  const dir = mkdtempSync(path.join(tmpdir(), `keygate-bench-scale-${dialect}-`));
  const database = await freshDatabase(dialect, dir);
  const masterKey = randomBytes(32);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    KEYGATE_DATA_DIR: dir,
    DATABASE_URL: database.url,
    KEYGATE_MASTER_KEY: masterKey.toString('hex'),
    KEYGATE_SESSION_SECRET: randomBytes(32).toString('hex'),
    KEYGATE_METRICS_TOKEN: 'bench-scale',
    LOG_LEVEL: 'warn',
    KEYGATE_RATE_LIMIT: '0',
    KEYGATE_FAILED_AUTH_LIMIT: '0',
    PORT: '0',
    HOST: '127.0.0.1',
  };
  let handle: DatabaseHandle | null = null;
  try {
    const bootstrap = async (name: string, plan: string) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [bin, 'bootstrap', '--account', name, '--plan', plan, '--owner', `${name.toLowerCase()}@keygate.test`, '--json'],
        { cwd: root, env },
      );
      return JSON.parse(stdout.trim().split('\n').at(-1)!);
    };
    const tenant = await bootstrap('Scale', 'SCALE');
    const agedTenant = await bootstrap('Aged', 'FREE');
    const environmentId: string = tenant.environments[0].id;
    const key: string = tenant.environments[0].fullAccessKey.secret;
    handle = await connectDatabase({ url: database.url, poolSize: 2 });

    let started = Date.now();
    const keyIds = await seedKeys(handle, masterKey, { accountId: tenant.account.id, environmentId });
    const keySeedSeconds = (Date.now() - started) / 1000;
    console.log(`${dialect}: ${KEYS.toLocaleString('en')} keys seeded in ${keySeedSeconds.toFixed(1)} s`);
    const population: Population = {
      environmentId,
      busyKey: keyIds[0]!,
      rareKey: keyIds[1]!,
      otherKeys: keyIds.slice(2, 2 + OTHER_KEYS),
      users: [
        { id: tenant.owner.id, name: 'Owner' },
        ...Array.from({ length: 9 }, (_, i) => ({ id: newId('usr'), name: `User ${i}` })),
      ],
    };
    const queries = queriesOf(population);

    // One constant rate over SPAN_DAYS up to now: each size appends the next stretch of time.
    const end = Date.now() - 60_000;
    const begin = end - SPAN_DAYS * DAY;
    const msPerEvent = (end - begin) / SIZES.at(-1)!;
    const sizes = [];
    let seeded = 0;
    let environment = 0;
    for (const [index, size] of SIZES.entries()) {
      started = Date.now();
      const from = begin + seeded * msPerEvent;
      const written = await writeAll(
        handle,
        eventsOf(population, size - seeded, from, begin + size * msPerEvent, index === 0 ? RARE_FIRST : RARE_LATER),
      );
      if (written !== size - seeded) throw new Error(`wrote ${written} of ${size - seeded} events`);
      seeded = size;
      await settle(handle);
      const seedSeconds = (Date.now() - started) / 1000;
      console.log(
        `${dialect}: ${size.toLocaleString('en')} events (${written.toLocaleString('en')} written in ${seedSeconds.toFixed(1)} s)`,
      );
      environment ||= (await activityStoreOf(handle.db, handle.dialect).refs.find(environmentId))!;
      const storage = await activityBytes(handle);

      // A fresh serving process at each size.
      const { child, url } = await startServe(env);
      try {
        const totals = await checkTotals(handle, url, key, population, environment);
        const medians: Record<string, number> = {};
        for (let i = 0; i < PROCESS_WARMUP; i++) for (const q of queries) await graphql(url, key, q.query);
        for (const q of queries) medians[q.name] = await timeQuery(url, key, q.query);
        console.log(`${dialect}: ${size.toLocaleString('en')}: ${JSON.stringify(medians)}`);
        sizes.push({
          events: size,
          seedSeconds: Number(seedSeconds.toFixed(1)),
          eventsPerSecondSeeded: Math.round(written / seedSeconds),
          storedEvents: storage.events,
          activityBytes: storage.bytes,
          bytesPerEvent: Math.round(storage.bytes / storage.events),
          totalsChecked: totals,
          medians,
        });
      } finally {
        await stop(child);
      }
    }

    // Aged events of a FREE account (7 days): 8 to 9 days old. On PostgreSQL those days hold no other
    // environment's events, so they are dropped whole; a second run adds a few events of the SCALE
    // environment (kept 90 days) to the same days, so the FREE events go row by row.
    const agedEnvironmentId: string = agedTenant.environments[0].id;
    const agedKeys = [agedTenant.environments[0].fullAccessKey.id as string];
    const agedEnd = Date.now() - (RETENTION_DAYS.FREE + 1) * DAY;
    const seedAged = async (shared: boolean) => {
      started = Date.now();
      await writeAll(
        handle!,
        eventsOf(
          {
            environmentId: agedEnvironmentId,
            busyKey: agedKeys[0]!,
            rareKey: agedKeys[0]!,
            otherKeys: agedKeys,
            users: population.users,
          },
          AGED[dialect],
          agedEnd - DAY,
          agedEnd,
          0,
        ),
      );
      if (shared) await writeAll(handle!, eventsOf(population, SHARED_EVENTS, agedEnd - DAY, agedEnd, 0));
      await settle(handle!);
      const seconds = (Date.now() - started) / 1000;
      console.log(`${dialect}: ${AGED[dialect].toLocaleString('en')} aged events seeded in ${seconds.toFixed(1)} s`);
      return seconds;
    };
    const agedSeedSeconds = await seedAged(false);
    const agedEnvironment = (await activityStoreOf(handle.db, handle.dialect).refs.find(agedEnvironmentId))!;
    const retention = await measureRetention(handle, env, key, agedEnvironment, AGED[dialect]);
    console.log(`${dialect}: retention ${JSON.stringify(retention)}`);
    let retentionShared = null;
    if (dialect === 'postgres') {
      await seedAged(true);
      retentionShared = await measureRetention(handle, env, key, agedEnvironment, AGED[dialect]);
      console.log(`${dialect}: retention, days shared with a longer window ${JSON.stringify(retentionShared)}`);
    }

    const first = sizes[0]!;
    const last = sizes.at(-1)!;
    const growth = Object.fromEntries(
      queries.map((q) => [q.name, Number((last.medians[q.name]! / first.medians[q.name]!).toFixed(2))]),
    );
    // The bytes each added event took: from the first size to the last (fixed costs cancel out).
    const marginalBytesPerEvent = Math.round(
      (last.activityBytes - first.activityBytes) / (last.storedEvents - first.storedEvents),
    );
    return {
      dialect,
      keySeedSeconds: Number(keySeedSeconds.toFixed(1)),
      agedSeedSeconds: Number(agedSeedSeconds.toFixed(1)),
      sizes,
      growth,
      marginalBytesPerEvent,
      retention,
      retentionShared,
    };
  } finally {
    // A step that failed leaves its server running: end it before its database goes.
    for (const child of running) child.kill('SIGKILL');
    await handle?.close().catch(() => {});
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

const GB = 1024 * MB;
const yes = (ok: boolean) => (ok ? 'met' : '**missed**');

function verdicts(d: any) {
  const last = d.sizes.at(-1);
  const slow = Object.entries(last.medians).filter(([, ms]) => (ms as number) > TARGET_MS);
  const grown = Object.entries(d.growth).filter(([, g]) => (g as number) > TARGET_GROWTH);
  const bytes = Math.max(last.bytesPerEvent, d.marginalBytesPerEvent);
  const added = (r: any) => r.during.p99 - Math.min(r.before.p99, r.after?.p99 ?? Number.POSITIVE_INFINITY);
  const p99Added = Number(Math.max(added(d.retention), d.retentionShared ? added(d.retentionShared) : 0).toFixed(1));
  const perDay = bytes * PEAK_CALLS_PER_S * 86_400;
  return {
    medians: { ok: slow.length === 0, over: slow.map(([name]) => name) },
    growth: { ok: grown.length === 0, over: grown.map(([name]) => name) },
    bytes: { ok: bytes <= TARGET_BYTES, bytesPerEvent: bytes },
    retention: { ok: p99Added <= TARGET_P99_MS, p99AddedMs: p99Added },
    budget: {
      bytesPerDayAtPeak: perDay,
      gbPerDay: Number((perDay / GB).toFixed(1)),
      gbPerWindow: Object.fromEntries(
        Object.entries(RETENTION_DAYS).map(([plan, days]) => [plan, Number(((perDay * days) / GB).toFixed(0))]),
      ),
    },
  };
}

function markdown(report: any): string {
  const names: string[] = Object.keys(report.dialects[0].sizes[0].medians);
  const sizeLabel = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
  const lines = [
    `Activity at scale ${report.date} (Node ${report.machine.node}, ${report.machine.cpus} cores; \`keygate serve\` in production over one database grown ${SIZES.map(sizeLabel).join(' → ')} events and ${KEYS.toLocaleString('en')} keys, a fresh process at each size; each query over HTTP one at a time on one kept-alive connection, median of ${SAMPLES} after ${PROCESS_WARMUP} rounds of every query and ${WARMUP} of its own; ${report.seconds}s in all)`,
    '',
    `| query | ${report.dialects.flatMap((d: any) => d.sizes.map((s: any) => `${d.dialect} ${sizeLabel(s.events)} ms`)).join(' | ')} | ${report.dialects.map((d: any) => `${d.dialect} ${sizeLabel(SIZES.at(-1)!)}/${sizeLabel(SIZES[0]!)}`).join(' | ')} |`,
    `|---|${report.dialects.flatMap((d: any) => d.sizes.map(() => '---:')).join('|')}|${report.dialects.map(() => '---:').join('|')}|`,
    ...names.map(
      (name) =>
        `| ${name} | ${report.dialects.flatMap((d: any) => d.sizes.map((s: any) => s.medians[name])).join(' | ')} | ${report.dialects.map((d: any) => `${d.growth[name]}×`).join(' | ')} |`,
    ),
    '',
    `| | bytes/event at ${SIZES.map(sizeLabel).join(' / ')} | bytes per added event | seeding (events/s, repository write path) |`,
    '|---|---|---:|---|',
    ...report.dialects.map(
      (d: any) =>
        `| ${d.dialect} | ${d.sizes.map((s: any) => s.bytesPerEvent).join(' / ')} | ${d.marginalBytesPerEvent} | ${d.sizes.map((s: any) => `${s.eventsPerSecondSeeded.toLocaleString('en')}`).join(' / ')} |`,
    ),
    '',
    `Retention: \`viewer\` at ${STREAM_CONNECTIONS} connections while the serving process's retention worker deletes aged events of a FREE account (the stream "during" runs from before the pass until deletion is done, ${STREAM_S} s at least), against the same stream before its pass and after deletion is done. On PostgreSQL twice: the aged days holding the FREE environment alone (dropped whole), then the same days shared with ${SHARED_EVENTS} events of the SCALE environment (kept 90 days, so the FREE events are deleted row by row).`,
    '',
    '| | aged events | partitions dropped | before p50 / p99 ms | during p50 / p99 ms | after p50 / p99 ms | rows/s deleted during | whole deletion |',
    '|---|---:|---:|---|---|---|---:|---|',
    ...report.dialects.flatMap((d: any) => {
      const pp = (s: any) => (s ? `${s.p50} / ${s.p99} (${s.requests} req)` : '—');
      const row = (label: string, r: any) =>
        `| ${label} | ${r.agedEvents.toLocaleString('en')} | ${r.partitionsDropped} | ${pp(r.before)} | ${pp(r.during)} | ${pp(r.after)} | ${r.during.rowsPerSecond.toLocaleString('en')} | ${!r.finished ? `unfinished after ${r.deletionSeconds} s` : r.rowsPerSecond ? `${r.deletionSeconds} s, ${r.rowsPerSecond.toLocaleString('en')} rows/s` : `under ${POLL_S} s (the poll's resolution)`} |`;
      return d.retentionShared
        ? [row(`${d.dialect}, aged days alone`, d.retention), row(`${d.dialect}, days shared`, d.retentionShared)]
        : [row(d.dialect, d.retention)];
    }),
    '',
    'Targets:',
    ...report.dialects.flatMap((d: any) => {
      const v = d.verdicts;
      return [
        `- ${d.dialect}: every row ≤ ${TARGET_MS} ms at ${sizeLabel(SIZES.at(-1)!)}: ${yes(v.medians.ok)}${v.medians.over.length ? ` (over: ${v.medians.over.join(', ')})` : ''}; ≤ ${TARGET_GROWTH}× its ${sizeLabel(SIZES[0]!)} figure: ${yes(v.growth.ok)}${v.growth.over.length ? ` (over: ${v.growth.over.join(', ')})` : ''}; ≤ ${TARGET_BYTES} bytes/event (indexes and counters included): ${yes(v.bytes.ok)} (${v.bytes.bytesPerEvent}); deletion adds ≤ ${TARGET_P99_MS} ms to p99: ${yes(v.retention.ok)} (${v.retention.p99AddedMs} ms).`,
        `  A day at ${PEAK_CALLS_PER_S.toLocaleString('en')} calls/s is ${v.budget.gbPerDay} GB; a window at that rate: ${Object.entries(
          v.budget.gbPerWindow,
        )
          .map(([plan, gb]) => `${plan} ${gb} GB`)
          .join(', ')}.`,
      ];
    }),
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const started = Date.now();
  // `keygate serve` runs the compiled bundle: build it, as `npm install` does.
  await buildNodeBundle(path.join(root, 'src/cli.ts'), SERVER_BUNDLE);
  const only = process.env.BENCH_SCALE_DIALECT;
  const dialects = [];
  if (only !== 'postgres') dialects.push(await benchDialect('sqlite'));
  if (only !== 'sqlite') {
    if (await postgresUp()) dialects.push(await benchDialect('postgres'));
    else console.log(`PostgreSQL not reachable at ${new URL(POSTGRES_URL).host}: SQLite only.`);
  }
  for (const d of dialects) Object.assign(d, { verdicts: verdicts(d) });
  const report = {
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length },
    settings: {
      sizes: SIZES,
      keys: KEYS,
      spanDays: SPAN_DAYS,
      samples: SAMPLES,
      warmup: WARMUP,
      aged: AGED,
      streamConnections: STREAM_CONNECTIONS,
      streamSeconds: STREAM_S,
    },
    dialects,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const out = path.join(here, 'results');
  writeFileSync(path.join(out, 'scale.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(out, 'scale.md'), markdown(report));
  console.log(`\n${markdown(report)}`);
}

const deadline = setTimeout(async () => {
  console.error('Scale benchmark exceeded 30 minutes; stopping.');
  for (const child of running) child.kill('SIGKILL');
  await Promise.all([...schemas].map((d) => d.drop().catch(() => {})));
  process.exit(1);
}, 1_800_000);
deadline.unref();
await main();
process.exit(0);
