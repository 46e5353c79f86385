/**
 * `npm run bench`: Keygate side by side with its baselines, in one run on this
 * machine. Every Keygate row measures what users run: `keygate serve` from
 * bin/keygate.js (the compiled bundle) with `NODE_ENV=production`, its
 * default logging (JSON lines to standard output, which goes to a file, as a
 * deployment's log collector would take it) and the activity log on. Same
 * load generator (autocannon), same concurrency, warm-up, then measured
 * rounds alternated across rows; then sequential requests for latency at
 * concurrency 1; then CPU profiles of fresh processes; then a bounded
 * hostile burst (bench/hostile.ts). Prints the tables and writes
 * bench/results/latest.json and latest.md. Bounded: stops by itself.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { buildNodeBundle, SERVER_BUNDLE } from '../src/build.js';
import { describeHostile, measureHostileBurst } from './hostile.js';
import { SHOP_QUERY, SHOP_SCOPES, SHOP_SDL } from './shop.js';

const CONNECTIONS = 50;
const WARMUP_S = 1;
/**
 * Unmeasured load right before each measured round. A row waits through
 * every other row's round (about 40 s) between two of its own, and a server
 * that sat idle comes back slower for several seconds: after 35 s idle, bare
 * Yoga took 310 µs of CPU per request against 200 back to back, Keygate 348
 * against 290 (scratch A/B on this machine; V8's memory reducer shrinking
 * an idle heap is the likely cause, not confirmed). Without it bare Yoga
 * measured 5,300 req/s in its first round and 3,500 in the next two, and
 * row 3 read 1.05× bare Yoga; with it, 0.89×.
 */
const ROUND_WARMUP_S = 1;
/**
 * Rounds of row 3 and bare Yoga alone, before the table, alternated back to
 * back after PAIR_WARMUP_S of each: row 3's target is read from these, the
 * steady state of two processes that have not sat idle. A warm-up does not
 * undo a long idle (bare Yoga was still at 246 µs per request after three
 * seconds of load; measured after the table, the pair read 0.86-1.06× with
 * bare Yoga at 259 µs), so the table's row 3 ratio reads higher.
 */
const PAIR_ROUNDS = 4;
const PAIR_WARMUP_S = 2;
const ROUND_S = 3;
const ROUNDS = 3;
/** Sequential requests (one in flight) per target and round, for the latency Keygate adds. */
const LATENCY_ROUND_S = 2;
/** Above any rate the load generator reaches with one key: the limiter still runs on every request, it never refuses. */
const BENCH_RATE_LIMIT = '1000000';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.join(here, '..');
const BIN = path.join(root, 'bin/keygate.js');
/** The benchmark's own processes (bench/server.ts), compiled like `keygate serve`: no TypeScript loader in any row. */
const HARNESS = path.join(root, 'dist/bench-server.mjs');
const runDir = mkdtempSync(path.join(tmpdir(), 'keygate-bench-'));

interface Target {
  name: string;
  child: ChildProcess;
  url: string;
  /** Where its standard output (Keygate's log) went. */
  log: string;
}

/** The environment of a production deployment: secrets given, nothing inherited that would change a default. */
function productionEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('KEYGATE_') && !['LOG_LEVEL', 'DATABASE_URL', 'PORT', 'HOST', 'NODE_OPTIONS'].includes(k),
    ),
  );
  return {
    ...inherited,
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    KEYGATE_DATA_DIR: dataDir,
    DATABASE_URL: `file:${path.join(dataDir, 'keygate.db')}`,
    KEYGATE_MASTER_KEY: MASTER_KEY,
    KEYGATE_SESSION_SECRET: SESSION_SECRET,
    KEYGATE_METRICS_TOKEN: METRICS_TOKEN,
    KEYGATE_RATE_LIMIT: BENCH_RATE_LIMIT,
    ...extra,
  };
}
const MASTER_KEY = randomBytes(32).toString('hex');
const SESSION_SECRET = randomBytes(32).toString('hex');
const METRICS_TOKEN = randomBytes(16).toString('hex');

/** Every process the benchmark started, so none outlives it (an error, the deadline). */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a server process with standard output to a file and waits for its "… on http://…/graphql" line. */
async function start(name: string, args: string[], env: NodeJS.ProcessEnv, nodeFlags: string[] = []): Promise<Target> {
  const log = path.join(runDir, `${name.replace(/\W+/g, '-')}-${Date.now()}.log`);
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: root,
    env,
    stdio: ['ignore', openSync(log, 'w'), 'inherit'],
  });
  children.add(child);
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
    children.delete(child);
  });
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const match = / on (http:\/\/[^/\s]+)\/graphql/.exec(readFileSync(log, 'utf8'));
    if (match) return { name, child, url: match[1]!, log };
    if (exited !== null) throw new Error(`${name} exited with ${exited}: ${readFileSync(log, 'utf8').slice(-2000)}`);
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not start`);
}

async function stop(target: Target): Promise<void> {
  if (target.child.exitCode !== null) return;
  const exited = new Promise((resolve) => target.child.once('exit', resolve));
  target.child.kill('SIGTERM');
  await exited;
}

const harness = (name: string, mode: string, env: NodeJS.ProcessEnv, flags: string[] = []) =>
  start(name, [HARNESS, mode], env, flags);
const serve = (name: string, env: NodeJS.ProcessEnv, flags: string[] = []) => start(name, [BIN, 'serve'], env, flags);

/** CPU time (user + system, every thread) and resident set of a process, read from outside (Linux /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}
function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** SQL statements a Keygate has sent so far (its `/metrics`). */
async function statements(target: Target): Promise<number> {
  const res = await fetch(`${target.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  return Number(/^keygate_database_statements_total (\d+)$/m.exec(await res.text())?.[1] ?? Number.NaN);
}

/** Requests the shop upstream has received so far (bench/server.ts `GET /requests`). */
async function upstreamRequests(shop: Target): Promise<number> {
  return ((await (await fetch(`${shop.url}/requests`)).json()) as { requests: number }).requests;
}

async function post(url: string, query: string, headers: Record<string, string> = {}, variables?: unknown) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: { message: string }[] } };
}

function graphql(
  query: string,
  headers: Record<string, string> = {},
  variables?: () => Record<string, unknown>,
): () => autocannon.Request {
  return () => ({
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    ...(variables
      ? { setupRequest: (req: autocannon.Request) => ({ ...req, body: JSON.stringify({ query, variables: variables() }) }) }
      : { body: JSON.stringify({ query }) }),
  });
}

const load = (url: string, req: autocannon.Request, seconds: number) =>
  autocannon({ url, connections: CONNECTIONS, duration: seconds, requests: [req] });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const round2 = (x: number) => Number(x.toFixed(2));

interface Row {
  name: string;
  target: () => Target;
  keygate: boolean;
  request: () => autocannon.Request;
}

interface Measured {
  /** Requests the shop upstream received during the rounds (gateway rows). */
  upstreamRequests: number;
  rps: number[];
  p50: number[];
  p99: number[];
  cpuMs: number;
  requests: number;
  statements: number;
  peakRss: number;
  errors: number;
}

const emptyMeasured = (): Measured => ({
  upstreamRequests: 0,
  rps: [],
  p50: [],
  p99: [],
  cpuMs: 0,
  requests: 0,
  statements: 0,
  peakRss: 0,
  errors: 0,
});
const cpuPerRequest = (m: Measured) => Math.round((m.cpuMs * 1000) / Math.max(1, m.requests));
/** x's rounds against y's, alternated: the ratio of their medians, and the lowest and highest of one round's pair. */
function ratioOf(x: number[], y: number[]) {
  const perRound = x.map((v, i) => v / y[i]!);
  return { median: round2(median(x) / median(y)), min: round2(Math.min(...perRound)), max: round2(Math.max(...perRound)) };
}

/** One measured round of one row: load, the server's CPU and peak RSS from outside, its SQL from /metrics. */
async function measure(row: Row, m: Measured, upstream: Target): Promise<void> {
  const target = row.target();
  const pid = target.child.pid!;
  const sqlBefore = row.keygate ? await statements(target) : 0;
  // Only the gateway rows reach the upstream.
  const gatewayRow = row.name.startsWith('G');
  const upstreamBefore = gatewayRow ? await upstreamRequests(upstream) : 0;
  let peak = rssBytes(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
  const cpuBefore = cpuMs(pid);
  const result = await load(target.url, row.request(), ROUND_S);
  const cpuAfter = cpuMs(pid);
  clearInterval(sampler);
  m.rps.push(result.requests.average);
  m.p50.push(result.latency.p50);
  m.p99.push(result.latency.p99);
  m.cpuMs += cpuAfter - cpuBefore;
  m.requests += result.requests.total;
  if (row.keygate) m.statements += (await statements(target)) - sqlBefore;
  if (gatewayRow) m.upstreamRequests += (await upstreamRequests(upstream)) - upstreamBefore;
  m.peakRss = Math.max(m.peakRss, peak);
  m.errors += result.non2xx + result.errors;
}

/** Sequential requests over one kept-alive connection for `seconds`: each one's latency in ms. */
async function sequential(target: Target, body: string, headers: Record<string, string>, seconds: number) {
  const url = new URL(target.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const send = () =>
    new Promise<number>((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: '/graphql',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(body),
            ...headers,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const started = performance.now();
    const status = await send();
    latencies.push(performance.now() - started);
    if (status !== 200) errors++;
  }
  agent.destroy();
  return { latencies, errors };
}

async function main() {
  const started = Date.now();
  await Promise.all([
    buildNodeBundle(path.join(here, 'server.ts'), HARNESS),
    buildNodeBundle(path.join(root, 'src/cli.ts'), SERVER_BUNDLE),
  ]);

  console.log('Seeding Keygate (1,000 customers, 10,000 keys) and starting the targets…');
  const keygateDir = path.join(runDir, 'keygate');
  const quietDir = path.join(runDir, 'keygate-quiet');
  const gatewayDir = path.join(runDir, 'gateway');
  for (const dir of [keygateDir, quietDir, gatewayDir]) mkdirSync(dir);
  const exec = promisify(execFile);
  const [seeded, bootstrapped] = await Promise.all([
    exec(process.execPath, [HARNESS, 'seed'], { cwd: root, env: productionEnv(keygateDir), maxBuffer: 64 * 1024 * 1024 }),
    exec(
      process.execPath,
      [BIN, 'bootstrap', '--account', 'Gateway', '--plan', 'SCALE', '--owner', 'gw@keygate.test', '--json'],
      {
        cwd: root,
        env: productionEnv(gatewayDir),
      },
    ),
  ]);
  const keys: string[] = JSON.parse(seeded.stdout.trim().split('\n').at(-1)!).keys;
  const gatewayFullKey: string = JSON.parse(bootstrapped.stdout.trim().split('\n').at(-1)!).environments[0].fullAccessKey.secret;
  // Row 5b gets its own copy of the seeded database (closed, so checkpointed into the one file).
  copyFileSync(path.join(keygateDir, 'keygate.db'), path.join(quietDir, 'keygate.db'));

  // The gateway rows' upstream, and the two gateways in front of it.
  const identityKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const plain = productionEnv(runDir);
  const [ceiling, yoga, keygate, keygateQuiet, shop] = await Promise.all([
    harness('graphql-js ceiling', 'ceiling', plain),
    harness('bare Yoga', 'yoga', plain),
    serve('keygate serve', productionEnv(keygateDir)),
    harness('Keygate, activity off', 'keygate-quiet', productionEnv(quietDir)),
    harness('shop upstream', 'shop', plain),
  ]);
  writeFileSync(path.join(gatewayDir, 'shop.graphql'), SHOP_SDL);
  // Two upstreams files: the default, and one with in-flight sharing off (every call reaches the upstream).
  const upstreamsFile = (name: string, settings: Record<string, unknown>) => {
    const file = path.join(gatewayDir, name);
    const shopUpstream = { name: 'shop', url: `${shop.url}/graphql`, schema: { file: 'shop.graphql' }, ...settings };
    writeFileSync(file, JSON.stringify({ upstreams: [shopUpstream] }));
    return file;
  };
  const gatewayEnv = productionEnv(gatewayDir, {
    KEYGATE_UPSTREAMS: upstreamsFile('upstreams.json', {}),
    KEYGATE_IDENTITY_KEY: identityKey,
  });
  const unsharedEnv = productionEnv(gatewayDir, {
    KEYGATE_UPSTREAMS: upstreamsFile('upstreams-unshared.json', { deduplicate: false }),
    KEYGATE_IDENTITY_KEY: identityKey,
  });
  const [gateway, gatewayUnshared, hive, hiveUnshared] = await Promise.all([
    serve('keygate serve, gateway', gatewayEnv),
    serve('keygate serve, gateway, sharing off', unsharedEnv),
    harness('Hive Gateway', 'hive', { ...plain, BENCH_UPSTREAM: `${shop.url}/graphql` }),
    harness('Hive Gateway, deduplication off', 'hive', { ...plain, BENCH_UPSTREAM: `${shop.url}/graphql`, BENCH_DEDUP: '0' }),
  ]);
  const created = await post(
    gateway.url,
    'mutation($scopes: [String!]!) { createScopedKey(input: { name: "bench gateway", scopes: $scopes }) { secret } }',
    { 'x-api-key': gatewayFullKey },
    { scopes: SHOP_SCOPES },
  );
  const gatewayKey: string | undefined = created.body.data?.createScopedKey?.secret;
  if (!gatewayKey) throw new Error(`could not create the gateway row's key: ${JSON.stringify(created.body)}`);

  // Before measuring anything: every gateway answers the document exactly as the upstream does, with no error.
  const direct = await post(shop.url, SHOP_QUERY);
  for (const [t, headers] of [
    [gateway, { 'x-api-key': gatewayKey }],
    [gatewayUnshared, { 'x-api-key': gatewayKey }],
    [hive, {}],
    [hiveUnshared, {}],
  ] as const) {
    const through = await post(t.url, SHOP_QUERY, headers);
    if (through.body.errors || JSON.stringify(through.body.data) !== JSON.stringify(direct.body.data))
      throw new Error(`${t.name} does not answer as the upstream does: ${JSON.stringify(through.body).slice(0, 500)}`);
  }
  const viewer = await post(keygate.url, '{ viewer { kind permissions } }', { 'x-api-key': keys[0]! });
  if (viewer.body.errors) throw new Error(`row 3 fails: ${JSON.stringify(viewer.body)}`);

  const key = keys[0]!;
  let customer = 0;
  let spread = 0;
  const createCustomer =
    'mutation($id: String!) { createCustomer(input: { customerId: $id, name: "Bench" }) { customer { id } } }';
  const shopRequest = graphql(SHOP_QUERY);
  const rows: Row[] = [
    { name: '1. graphql-js ceiling `{ hello }`', target: () => ceiling, keygate: false, request: graphql('{ hello }') },
    { name: '2. bare graphql-yoga `{ hello }`', target: () => yoga, keygate: false, request: graphql('{ hello }') },
    {
      name: '3. Keygate, scoped key, `viewer`',
      target: () => keygate,
      keygate: true,
      request: graphql('{ viewer { kind permissions } }', { 'x-api-key': key }),
    },
    {
      name: '4. Keygate, 100 customers + subscriptions',
      target: () => keygate,
      keygate: true,
      request: graphql('{ customers(first: 100) { edges { node { id customerId name subscriptions { id planId status } } } } }', {
        'x-api-key': key,
      }),
    },
    {
      name: '5. Keygate, createCustomer (activity on)',
      target: () => keygate,
      keygate: true,
      request: graphql(createCustomer, { 'x-api-key': key }, () => ({ id: `on-${customer++}` })),
    },
    {
      name: '5b. Keygate, createCustomer (activity off)',
      target: () => keygateQuiet,
      keygate: true,
      request: graphql(createCustomer, { 'x-api-key': key }, () => ({ id: `off-${customer++}` })),
    },
    {
      name: '6. Keygate, 10,000 keys, 1,000 in use',
      target: () => keygate,
      keygate: true,
      request: () => ({
        method: 'POST',
        path: '/graphql',
        body: JSON.stringify({ query: '{ viewer { kind permissions } }' }),
        setupRequest: (req: autocannon.Request) => ({
          ...req,
          headers: { 'content-type': 'application/json', accept: 'application/json', 'x-api-key': keys[spread++ % keys.length]! },
        }),
      }),
    },
    { name: 'G1. shop upstream, direct', target: () => shop, keygate: false, request: shopRequest },
    {
      name: 'G2. Keygate gateway, scoped key (activity on)',
      target: () => gateway,
      keygate: true,
      request: graphql(SHOP_QUERY, { 'x-api-key': gatewayKey }),
    },
    { name: 'G3. Hive Gateway, proxy mode (no auth)', target: () => hive, keygate: false, request: shopRequest },
    // The same pair with in-flight sharing off on both sides: every call is its own upstream request.
    {
      name: 'G2b. Keygate gateway, sharing off ("deduplicate": false)',
      target: () => gatewayUnshared,
      keygate: true,
      request: graphql(SHOP_QUERY, { 'x-api-key': gatewayKey }),
    },
    {
      name: 'G3b. Hive Gateway, deduplication off',
      target: () => hiveUnshared,
      keygate: false,
      request: shopRequest,
    },
  ];
  const baselineLabel = (row: Row) =>
    row === rows[1] ? 'bare Yoga' : row === rows[9] ? 'Hive Gateway (G3)' : 'Hive Gateway, deduplication off (G3b)';
  /** What each row is compared with: G2/G3 with Hive's defaults, G2b/G3b with Hive without deduplication. */
  const baselineOf = (row: Row) =>
    row.name.startsWith('G2b') || row.name.startsWith('G3b') ? rows[11]! : row.name.startsWith('G') ? rows[9]! : rows[1]!;

  // Row 3's target, measured first and as the pair alone: fresh processes, warmed, alternating back to back.
  console.log('Row 3 and bare Yoga back to back…');
  const pair = [rows[1]!, rows[2]!] as const;
  const [yogaAlone, keygateAlone] = [emptyMeasured(), emptyMeasured()];
  for (const row of pair) await load(row.target().url, row.request(), PAIR_WARMUP_S);
  for (let i = 0; i < PAIR_ROUNDS; i++) {
    // Y K K Y Y K …: each goes first as often as second.
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const j of order) await measure(pair[j]!, j === 0 ? yogaAlone : keygateAlone, shop);
  }
  const backToBack = {
    rounds: PAIR_ROUNDS,
    yogaRps: Math.round(median(yogaAlone.rps)),
    keygateRps: Math.round(median(keygateAlone.rps)),
    yogaCpuUsPerRequest: cpuPerRequest(yogaAlone),
    keygateCpuUsPerRequest: cpuPerRequest(keygateAlone),
    ratio: ratioOf(keygateAlone.rps, yogaAlone.rps),
  };

  const measured = new Map<string, Measured>();
  for (const row of rows) {
    await load(row.target().url, row.request(), WARMUP_S);
    measured.set(row.name, emptyMeasured());
  }
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`Round ${round}/${ROUNDS}…`);
    for (const row of rows) {
      await load(row.target().url, row.request(), ROUND_WARMUP_S);
      await measure(row, measured.get(row.name)!, shop);
    }
  }

  console.log('Latency at concurrency 1 (sequential requests, alternated)…');
  const shopBody = JSON.stringify({ query: SHOP_QUERY });
  const latencyTargets: { name: string; target: Target; headers: Record<string, string> }[] = [
    { name: 'shop upstream, direct', target: shop, headers: {} },
    { name: 'Keygate gateway', target: gateway, headers: { 'x-api-key': gatewayKey } },
    { name: 'Hive Gateway', target: hive, headers: {} },
  ];
  const sequentialRuns = latencyTargets.map(() => ({ latencies: [] as number[], p50s: [] as number[], errors: 0 }));
  for (const t of latencyTargets) await sequential(t.target, shopBody, t.headers, 0.5);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, t] of latencyTargets.entries()) {
      const run = await sequential(t.target, shopBody, t.headers, LATENCY_ROUND_S);
      const into = sequentialRuns[i]!;
      into.latencies.push(...run.latencies);
      into.p50s.push(
        percentile(
          [...run.latencies].sort((a, b) => a - b),
          0.5,
        ),
      );
      into.errors += run.errors;
    }
  }
  const latency = latencyTargets.map((t, i) => {
    const run = sequentialRuns[i]!;
    const sorted = [...run.latencies].sort((a, b) => a - b);
    return {
      target: t.name,
      requests: sorted.length,
      p50ms: Number(percentile(sorted, 0.5).toFixed(3)),
      p99ms: Number(percentile(sorted, 0.99).toFixed(3)),
      p50msByRound: run.p50s.map((x) => Number(x.toFixed(3))),
      errors: run.errors,
    };
  });

  const shares = (a: string, b: string) => ratioOf(measured.get(a)!.rps, measured.get(b)!.rps);
  const table = rows.map((row) => {
    const m = measured.get(row.name)!;
    const baseline = baselineOf(row).name;
    return {
      row: row.name,
      reqPerSec: Math.round(median(m.rps)),
      reqPerSecRounds: m.rps.map(Math.round),
      p50ms: median(m.p50),
      p99ms: median(m.p99),
      cpuUsPerRequest: cpuPerRequest(m),
      sqlPerRequest: row.keygate ? Number((m.statements / Math.max(1, m.requests)).toFixed(2)) : null,
      peakRssMB: Math.round(m.peakRss / 1024 / 1024),
      upstreamPerCall: row.name.startsWith('G') ? Number((m.upstreamRequests / Math.max(1, m.requests)).toFixed(3)) : null,
      baseline: baselineLabel(baselineOf(row)),
      vsBaseline: shares(row.name, baseline),
      errors: m.errors,
    };
  });
  const activityCost = 1 - median(measured.get(rows[4]!.name)!.rps) / median(measured.get(rows[5]!.name)!.rps);
  const gatewayRow = table[8]!;
  const directP50 = latency[0]!.p50ms;
  const gatewaySummary = {
    keygateVsHive: gatewayRow.vsBaseline,
    keygateVsDirect: shares(rows[8]!.name, rows[7]!.name),
    hiveVsDirect: shares(rows[9]!.name, rows[7]!.name),
    unsharedKeygateVsHive: table[10]!.vsBaseline,
    unsharedKeygateVsDirect: shares(rows[10]!.name, rows[7]!.name),
    unsharedHiveVsDirect: shares(rows[11]!.name, rows[7]!.name),
    keygateAddedP50ms: Number((latency[1]!.p50ms - directP50).toFixed(3)),
    hiveAddedP50ms: Number((latency[2]!.p50ms - directP50).toFixed(3)),
    keygatePeakRssMB: Math.max(gatewayRow.peakRssMB, table[10]!.peakRssMB),
  };
  for (const t of [ceiling, yoga, keygate, keygateQuiet, gateway, gatewayUnshared, hive, hiveUnshared]) await stop(t);

  console.log('Profiling fresh processes (one round of load each, CPU profile of the load only)…');
  const profiles = {
    'bare graphql-yoga': await profile(
      () => harness('bare Yoga', 'yoga', plain, profileFlags('yoga')),
      rows[1]!.request(),
      'yoga',
    ),
    'Keygate row 3 (keygate serve)': await profile(
      () => serve('keygate serve', productionEnv(keygateDir), profileFlags('keygate')),
      rows[2]!.request(),
      'keygate',
    ),
    'Keygate gateway row G2 (keygate serve)': await profile(
      () => serve('keygate serve, gateway', gatewayEnv, profileFlags('gateway')),
      rows[8]!.request(),
      'gateway',
    ),
    'Keygate gateway row G2b, sharing off (keygate serve)': await profile(
      () => serve('keygate serve, gateway, sharing off', unsharedEnv, profileFlags('gateway-unshared')),
      rows[10]!.request(),
      'gateway-unshared',
    ),
    'Hive Gateway row G3': await profile(
      () => harness('Hive Gateway', 'hive', { ...plain, BENCH_UPSTREAM: `${shop.url}/graphql` }, profileFlags('hive')),
      shopRequest(),
      'hive',
    ),
  };
  await stop(shop);
  // Last, alone on the machine: memory of a real `keygate serve` under a bounded hostile burst.
  console.log('Hostile input against keygate serve (a bounded burst, RSS before and after)…');
  const hostileInput = await measureHostileBurst();

  const report = {
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length, loadAverageAtEnd: (await import('node:os')).loadavg()[0] },
    settings: {
      connections: CONNECTIONS,
      warmupSeconds: WARMUP_S,
      roundWarmupSeconds: ROUND_WARMUP_S,
      roundSeconds: ROUND_S,
      rounds: ROUNDS,
      latencyRoundSeconds: LATENCY_ROUND_S,
      keygate:
        'keygate serve (bin/keygate.js), NODE_ENV=production, default logging to a file, activity log on, rate limiter on ' +
        `(KEYGATE_RATE_LIMIT=${BENCH_RATE_LIMIT}: never refuses one key at this load), every other setting its default`,
    },
    rows: table,
    gateway: gatewaySummary,
    latency,
    row3BackToBack: backToBack,
    activityLoggingCost: Number(activityCost.toFixed(3)),
    hostileInput,
    profiles,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const out = path.join(here, 'results');
  writeFileSync(path.join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(out, 'latest.md'), markdown(report));
  console.log(`\n${markdown(report)}`);
  rmSync(runDir, { recursive: true, force: true });
}

const profileDir = (name: string) => path.join(runDir, `profile-${name}`);
const profileFlags = (name: string) => ['--cpu-prof', `--cpu-prof-dir=${profileDir(name)}`];

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; hitCount?: number }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Starts a fresh target under `node --cpu-prof`, warms it up, loads it for
 * one round, stops it and summarises where its CPU time went during that
 * round only (profile timestamps and process.hrtime share the monotonic clock).
 */
async function profile(startTarget: () => Promise<Target>, req: autocannon.Request, name: string) {
  const target = await startTarget();
  await load(target.url, req, WARMUP_S);
  const from = Number(process.hrtime.bigint() / 1000n);
  await load(target.url, req, ROUND_S);
  const to = Number(process.hrtime.bigint() / 1000n);
  await stop(target);
  const dir = profileDir(name);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
  const prof = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  const hits = new Map<number, number>();
  let time = prof.startTime;
  for (const [i, id] of prof.samples.entries()) {
    time += prof.timeDeltas[i]!;
    if (time >= from && time <= to) hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const node of prof.nodes) {
    const count = hits.get(node.id) ?? 0;
    if (!count) continue;
    const { url, functionName } = node.callFrame;
    if (functionName === '(idle)') {
      idle += count;
      continue;
    }
    busy += count;
    const place = !url
      ? `(${functionName || 'native'})`
      : url.includes('node_modules/')
        ? url
            .split('node_modules/')
            .at(-1)!
            .split('/')
            .slice(0, url.split('node_modules/').at(-1)!.startsWith('@') ? 2 : 1)
            .join('/')
        : url.startsWith('node:')
          ? url
          : 'keygate';
    byPlace.set(place, (byPlace.get(place) ?? 0) + count);
    const fn = url ? `${functionName || '(anonymous)'} [${place}]` : place;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + count);
  }
  const top = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([place, count]) => ({ place, share: Number((count / busy).toFixed(3)) }));
  return { idleShare: Number((idle / Math.max(1, idle + busy)).toFixed(3)), byPlace: top(byPlace), byFunction: top(byFunction) };
}

function markdown(report: any): string {
  const g = report.gateway;
  const ratio = (r: { median: number; min: number; max: number }) => `${r.median} (${r.min}–${r.max})`;
  const lines = [
    `Benchmark ${report.date} (Node ${report.machine.node}, ${report.machine.cpus} cores; ${report.settings.connections} connections, ${report.settings.rounds} alternated rounds of ${report.settings.roundSeconds}s, each right after ${report.settings.roundWarmupSeconds}s of unmeasured load, after ${report.settings.warmupSeconds}s warm-up; ${report.seconds}s in all)`,
    '',
    `Keygate rows: ${report.settings.keygate}.`,
    '',
    '| row | req/s (median) | rounds | p50 ms | p99 ms | CPU µs / request | SQL / request | upstream requests / call | peak RSS MB | × baseline (rounds) | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...report.rows.map(
      (r: any) =>
        `| ${r.row} | ${r.reqPerSec} | ${r.reqPerSecRounds.join(' / ')} | ${r.p50ms} | ${r.p99ms} | ${r.cpuUsPerRequest} | ${r.sqlPerRequest ?? '–'} | ${r.upstreamPerCall ?? '–'} | ${r.peakRssMB} | ${ratio(r.vsBaseline)} × ${r.baseline} | ${r.errors} |`,
    ),
    '',
    `Rows 1–6 against bare Yoga, G2 and G3 against Hive Gateway (G3), G2b and G3b against Hive Gateway with its deduplication off (G3b); in brackets the lowest and highest ratio of one round's pair. Activity logging costs ${(report.activityLoggingCost * 100).toFixed(1)} % of createCustomer throughput (row 5 vs 5b).`,
    '',
    `Gateway (the same upstream and document: ten orders, nested buyer and lines, three fields under @requiresScopes): Keygate ${ratio(g.keygateVsHive)}× Hive Gateway's throughput (target ≥ 1.0×, moonshot 1.2×); Keygate ${ratio(g.keygateVsDirect)}× and Hive ${ratio(g.hiveVsDirect)}× the upstream's direct throughput; Keygate's peak RSS ${g.keygatePeakRssMB} MB (target < 250 MB). Both gateways share identical queries in flight by default (Hive's deduplicateInflightRequests, Keygate's per-caller sharing), so most calls of this one-document load never reach the upstream (the "upstream requests / call" column). With sharing off on both sides (every call its own upstream request, identity token signed for each): Keygate ${ratio(g.unsharedKeygateVsHive)}× Hive; Keygate ${ratio(g.unsharedKeygateVsDirect)}× and Hive ${ratio(g.unsharedHiveVsDirect)}× direct.`,
    '',
    '| latency at concurrency 1 | requests | p50 ms | p99 ms | p50 by round | errors |',
    '|---|---:|---:|---:|---:|---:|',
    ...report.latency.map(
      (l: any) => `| ${l.target} | ${l.requests} | ${l.p50ms} | ${l.p99ms} | ${l.p50msByRound.join(' / ')} | ${l.errors} |`,
    ),
    '',
    `Keygate adds ${g.keygateAddedP50ms} ms p50 over direct (target ≤ 1 ms); Hive Gateway adds ${g.hiveAddedP50ms} ms.`,
    '',
    `Row 3 and bare Yoga alone, before the table: ${report.row3BackToBack.rounds} rounds each, alternated back to back after ${PAIR_WARMUP_S}s of warm-up each (neither has sat idle): Keygate ${ratio(report.row3BackToBack.ratio)}× bare Yoga's throughput (target ≥ 1.0×); ${report.row3BackToBack.keygateRps} against ${report.row3BackToBack.yogaRps} req/s, ${report.row3BackToBack.keygateCpuUsPerRequest} against ${report.row3BackToBack.yogaCpuUsPerRequest} µs of CPU per request.`,
    '',
    describeHostile(report.hostileInput),
    '',
    'Where the CPU time goes while loaded (fresh processes under `node --cpu-prof`, samples of the loaded round only; self time as a share of busy time; idle excluded):',
    '',
    ...Object.entries(report.profiles).flatMap(([name, p]: [string, any]) => [
      `- ${name} (idle ${(p.idleShare * 100).toFixed(0)} %)`,
      `  - by package: ${p.byPlace.map((x: any) => `${x.place} ${(x.share * 100).toFixed(0)} %`).join(', ')}`,
      `  - by function: ${p.byFunction.map((x: any) => `${x.place} ${(x.share * 100).toFixed(1)} %`).join(', ')}`,
    ]),
    '',
  ];
  return lines.join('\n');
}

const deadline = setTimeout(() => {
  console.error('Benchmark exceeded 5 minutes; stopping.');
  process.exit(1);
}, 300_000);
deadline.unref();
try {
  await main();
} finally {
  if (existsSync(runDir)) rmSync(runDir, { recursive: true, force: true });
}
process.exit(0);
