/**
 * `npm run bench`: Keygate side by side with its baselines, in one run on this
 * machine. Same load generator (autocannon), same concurrency, warm-up, then
 * measured rounds alternated across rows, then a bounded hostile burst
 * against `keygate serve` (bench/hostile.ts). Prints a table and writes
 * bench/results/latest.json and latest.md. Bounded: stops by itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { buildNodeBundle } from '../src/build.js';
import { describeHostile, measureHostileBurst } from './hostile.js';

const CONNECTIONS = 32;
const WARMUP_S = 1;
const ROUND_S = 3;
const ROUNDS = 3;
const here = path.dirname(new URL(import.meta.url).pathname);

interface Target {
  child: ChildProcess;
  url: string;
  info: { scopedKey?: string; keys?: string[] };
}

/** Every target runs compiled JavaScript, as `keygate serve` does: no TypeScript loader in any row. */
const SERVER = path.join(here, '../dist/bench-server.mjs');

async function start(mode: string, env: Record<string, string> = {}): Promise<Target> {
  const child = spawn(process.execPath, ['--expose-gc', SERVER, mode], {
    env: { ...process.env, ...env, KEYGATE_RATE_LIMIT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${mode} did not start`)), 120_000);
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
  });
  const info = JSON.parse(line);
  return { child, url: `http://127.0.0.1:${info.port}`, info };
}

async function stop(target: Target): Promise<void> {
  const exited = new Promise((resolve) => target.child.on('exit', resolve));
  target.child.kill('SIGTERM');
  await exited;
}

const serverStats = async (t: Target, reset = false) =>
  (await (await fetch(`${t.url}/__bench/${reset ? 'reset' : 'stats'}`)).json()) as { statements: number; peakRss: number };

interface Row {
  name: string;
  target: () => Target;
  keygate: boolean;
  request: () => autocannon.Request;
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

async function load(url: string, request: autocannon.Request, seconds: number) {
  return autocannon({ url, connections: CONNECTIONS, duration: seconds, requests: [request] });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const started = Date.now();
  await buildNodeBundle(path.join(here, 'server.ts'), SERVER);
  console.log('Starting targets (seeding Keygate: 1,000 customers, 10,000 keys)…');
  const [ceiling, yoga, keygate, keygateQuiet] = await Promise.all([
    start('ceiling'),
    start('yoga'),
    start('keygate'),
    start('keygate', { BENCH_ACTIVITY: 'off' }),
  ]);
  const key = keygate.info.scopedKey!;
  const keys = keygate.info.keys!;
  let customer = 0;
  let spread = 0;
  const createCustomer =
    'mutation($id: String!) { createCustomer(input: { customerId: $id, name: "Bench" }) { customer { id } } }';
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
      request: graphql(createCustomer, { 'x-api-key': keygateQuiet.info.scopedKey! }, () => ({ id: `off-${customer++}` })),
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
  ];

  const measured = new Map<
    string,
    { rps: number[]; p50: number[]; p99: number[]; requests: number; statements: number; peakRss: number; errors: number }
  >();
  for (const row of rows) {
    await load(row.target().url, row.request(), WARMUP_S);
    measured.set(row.name, { rps: [], p50: [], p99: [], requests: 0, statements: 0, peakRss: 0, errors: 0 });
  }
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`Round ${round}/${ROUNDS}…`);
    for (const row of rows) {
      const target = row.target();
      await serverStats(target, true);
      const result = await load(target.url, row.request(), ROUND_S);
      const after = await serverStats(target);
      const m = measured.get(row.name)!;
      m.rps.push(result.requests.average);
      m.p50.push(result.latency.p50);
      m.p99.push(result.latency.p99);
      m.requests += result.requests.total;
      m.statements += after.statements;
      m.peakRss = Math.max(m.peakRss, after.peakRss);
      m.errors += result.non2xx + result.errors;
    }
  }

  const yogaRps = median(measured.get(rows[1]!.name)!.rps);
  const table = rows.map((row) => {
    const m = measured.get(row.name)!;
    const rps = median(m.rps);
    return {
      row: row.name,
      reqPerSec: Math.round(rps),
      p50ms: median(m.p50),
      p99ms: median(m.p99),
      sqlPerRequest: row.keygate ? Number((m.statements / Math.max(1, m.requests)).toFixed(2)) : null,
      peakRssMB: Math.round(m.peakRss / 1024 / 1024),
      vsBareYoga: Number((rps / yogaRps).toFixed(2)),
      errors: m.errors,
    };
  });
  const activityCost = 1 - median(measured.get(rows[4]!.name)!.rps) / median(measured.get(rows[5]!.name)!.rps);

  console.log('Profiling bare Yoga and Keygate row 3 (one more round each, CPU profile of the load only)…');
  const profiles = {
    'bare graphql-yoga': await profile(yoga, rows[1]!.request()),
    'Keygate row 3': await profile(keygate, rows[2]!.request()),
  };
  for (const t of [ceiling, yoga, keygate, keygateQuiet]) await stop(t);
  // Last, alone on the machine: memory of a real `keygate serve` under a bounded hostile burst.
  console.log('Hostile input against keygate serve (a bounded burst, RSS before and after)…');
  const hostileInput = await measureHostileBurst();

  const report = {
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: (await import('node:os')).cpus().length },
    settings: { connections: CONNECTIONS, warmupSeconds: WARMUP_S, roundSeconds: ROUND_S, rounds: ROUNDS },
    rows: table,
    activityLoggingCost: Number(activityCost.toFixed(3)),
    hostileInput,
    profiles,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const out = path.join(here, 'results');
  writeFileSync(path.join(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(out, 'latest.md'), markdown(report));
  console.log(`\n${markdown(report)}`);
}

/** Profiles one round of load on a running target (in-process inspector) and summarises where its CPU time went. */
async function profile(target: Target, request: autocannon.Request) {
  await fetch(`${target.url}/__bench/profile/start`);
  await load(target.url, request, ROUND_S);
  const prof = (await (await fetch(`${target.url}/__bench/profile/stop`)).json()) as {
    nodes: { id: number; callFrame: { functionName: string; url: string }; hitCount?: number }[];
  };
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const node of prof.nodes) {
    const hits = node.hitCount ?? 0;
    const { url, functionName } = node.callFrame;
    if (functionName === '(idle)') {
      idle += hits;
      continue;
    }
    busy += hits;
    const place = !url
      ? `(${functionName || 'native'})`
      : url.includes('node_modules/')
        ? url
            .split('node_modules/')
            .at(-1)!
            .split('/')
            .slice(0, url.includes('node_modules/@') ? 2 : 1)
            .join('/')
        : url.startsWith('node:')
          ? url
          : 'keygate';
    byPlace.set(place, (byPlace.get(place) ?? 0) + hits);
    const fn = url ? `${functionName || '(anonymous)'} [${place}]` : place;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
  }
  const top = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([place, hits]) => ({ place, share: Number((hits / busy).toFixed(3)) }));
  return { idleShare: Number((idle / (idle + busy)).toFixed(3)), byPlace: top(byPlace), byFunction: top(byFunction) };
}

function markdown(report: any): string {
  const lines = [
    `Benchmark ${report.date} (Node ${report.machine.node}, ${report.machine.cpus} cores; ${report.settings.connections} connections, ${report.settings.rounds} alternated rounds of ${report.settings.roundSeconds}s after ${report.settings.warmupSeconds}s warm-up; ${report.seconds}s in all)`,
    '',
    '| row | req/s (median) | p50 ms | p99 ms | SQL / request | peak RSS MB | × bare Yoga | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...report.rows.map(
      (r: any) =>
        `| ${r.row} | ${r.reqPerSec} | ${r.p50ms} | ${r.p99ms} | ${r.sqlPerRequest ?? '–'} | ${r.peakRssMB} | ${r.vsBareYoga} | ${r.errors} |`,
    ),
    '',
    `Activity logging costs ${(report.activityLoggingCost * 100).toFixed(1)} % of createCustomer throughput (row 5 vs 5b).`,
    '',
    describeHostile(report.hostileInput),
    '',
    'Where the CPU time goes while loaded (self time as a share of busy time; idle excluded):',
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
  console.error('Benchmark exceeded 3 minutes; stopping.');
  process.exit(1);
}, 180_000);
deadline.unref();
await main();
process.exit(0);
