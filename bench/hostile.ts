/**
 * Memory under hostile input: a real `keygate serve` (bin/keygate.js running
 * the compiled bundle, its own process) takes a bounded burst of the hostile
 * requests test/hardening/hostile-input.test.ts proves answers for (bodies
 * over the limit, deep nesting, huge variables, overlong keys, invented root
 * fields…), and its RSS is read from outside before, during and after.
 * `npm run bench` includes it; `tsx bench/hostile.ts` runs it alone (about
 * 20 s) and exits 1 when the growth exceeds its bound or an answer is not a
 * coded error.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildNodeBundle, SERVER_BUNDLE } from '../src/build.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.join(here, '..');
const bin = path.join(root, 'bin/keygate.js');

/** Rounds of the whole case list, and requests in flight at once. */
const ROUNDS = 20;
const CONCURRENCY = 4;
/** The bound the burst must stay within (what the test suite asserted of a whole test worker before). */
export const HOSTILE_GROWTH_BOUND_MB = 150;

export interface HostileResult {
  requests: number;
  seconds: number;
  rssBeforeMB: number;
  peakRssMB: number;
  rssAfterMB: number;
  growthMB: number;
  withinBound: boolean;
  /** Answers that were not a coded error with a 4xx or 200 status (a 5xx, an uncoded body, a dropped connection). */
  uncoded: number;
  statuses: Record<string, number>;
}

interface HostileCase {
  name: string;
  body: Buffer;
  headers?: Record<string, string>;
}

const json = (query: string, variables?: Record<string, unknown>) => Buffer.from(JSON.stringify({ query, variables }));

/** The memory-heavy cases of the hostile-input test, built once and sent again every round. */
function hostileCases(): HostileCase[] {
  const chunked = { 'transfer-encoding': 'chunked' };
  const metadataQuery = JSON.stringify(
    'mutation($m: JSON) { createCustomer(input: { customerId: "deep-json", metadata: $m }) { customer { id } } }',
  );
  return [
    { name: '10 MB body', body: json('{ viewer { kind } }', { pad: 'x'.repeat(10 * 1024 * 1024) }) },
    { name: 'chunked 200 KiB body', body: json('{ viewer { kind } }', { pad: 'x'.repeat(200 * 1024) }), headers: chunked },
    {
      name: '10,000 aliases over the body limit',
      body: json(`{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: viewer { kind }`).join(' ')} }`),
    },
    {
      name: '10,000 short aliases within the body limit',
      body: json(
        `{${Array.from({ length: 10_000 }, (_, i) => `a${i}:__typename`).join(' ')}`.slice(0, 100_000).replace(/\s\S*$/, '}'),
      ),
    },
    { name: '500-deep nesting', body: json(`{ ${'environments { account { '.repeat(250)}id${' } }'.repeat(250)} }`) },
    {
      name: 'literal list 3,000 deep',
      body: json(
        `mutation { updateCustomer(input: { customerId: "c", metadata: ${'['.repeat(3000)}${']'.repeat(3000)} }) { customer { id } } }`,
      ),
    },
    {
      name: 'JSON variable 8,000 deep',
      body: Buffer.from(`{"query":${metadataQuery},"variables":{"m":${'['.repeat(8000)}${']'.repeat(8000)}}}`),
    },
    {
      name: '1 MB string variable',
      body: json('query($id: String!) { customer(customerId: $id) { id } }', { id: 'x'.repeat(1024 * 1024) }),
    },
    {
      name: '90 KB string variable',
      body: json('query($id: String!) { customer(customerId: $id) { id } }', { id: 'x'.repeat(90 * 1024) }),
    },
    { name: '10 KiB API key', body: json('{ viewer { kind } }'), headers: { 'x-api-key': `server-${'A'.repeat(10 * 1024)}` } },
    {
      name: 'invalid UTF-8',
      body: Buffer.concat([Buffer.from('{"query":"{ viewer { kind'), Buffer.from([0xff, 0xfe]), Buffer.from(' } }"}')]),
    },
    { name: 'malformed JSON', body: Buffer.from('{"query": ') },
    {
      name: '1,500 invented root fields',
      body: json(`{ ${Array.from({ length: 1500 }, (_, i) => `zz_${i}`).join(' ')} }`),
    },
  ];
}

/** The process's resident set in bytes, read from outside (/proc on Linux, `ps` elsewhere). */
export async function rssOf(pid: number): Promise<number> {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(status, 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  }
  const { stdout } = await promisify(execFile)('ps', ['-o', 'rss=', '-p', String(pid)]);
  return Number(stdout.trim()) * 1024;
}

interface Reply {
  status: number;
  code: string | undefined;
}

function post(url: URL, agent: Agent, key: string, hostile: HostileCase): Promise<Reply> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'x-api-key': key,
    ...(hostile.headers?.['transfer-encoding'] ? {} : { 'content-length': String(hostile.body.length) }),
    ...hostile.headers,
  };
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path: '/graphql', method: 'POST', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = JSON.parse(Buffer.concat(chunks).toString('utf8')).errors?.[0]?.extensions?.code;
        } catch {}
        resolve({ status: res.statusCode ?? 0, code });
      });
      res.on('error', () => resolve({ status: 0, code: undefined }));
    });
    // The server may answer (413) and close before the whole body is written.
    req.on('error', () => resolve({ status: 0, code: undefined }));
    req.end(hostile.body);
  });
}

export async function startServe(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: URL }> {
  const child = spawn(process.execPath, [bin, 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`keygate serve did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /Keygate on (http:\/\/[^/\s]+)\/graphql/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve(new URL(match[1]!));
      }
    });
    child.once('exit', (code) => reject(new Error(`keygate serve exited with ${code}: ${out}`)));
  });
  return { child, url };
}

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `keygate serve` on a fresh SQLite database, sends the bounded hostile burst and reports its RSS. */
export async function measureHostileBurst(): Promise<HostileResult> {
  // `keygate serve` runs the compiled bundle only when it is newer than the sources: build it, as `npm install` does.
  await buildNodeBundle(path.join(root, 'src/cli.ts'), SERVER_BUNDLE);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'keygate-bench-hostile-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEYGATE_DATA_DIR: dataDir,
    DATABASE_URL: `file:${dataDir}/keygate.db`,
    LOG_LEVEL: 'warn',
    // The burst measures what parsing and refusing costs, not the limiter's 429s.
    KEYGATE_RATE_LIMIT: '0',
    KEYGATE_FAILED_AUTH_LIMIT: '0',
    PORT: '0',
    HOST: '127.0.0.1',
  };
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [bin, 'bootstrap', '--account', 'Hostile', '--plan', 'SCALE', '--owner', 'hostile@keygate.test', '--json'],
    { cwd: root, env },
  );
  const key: string = JSON.parse(stdout.trim().split('\n').at(-1)!).environments[0].fullAccessKey.secret;
  const { child, url } = await startServe(env);
  const pid = child.pid!;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const cases = hostileCases();
    // Warm up with ordinary requests, so "before" is a serving process rather than one just started.
    const viewer = { name: 'viewer', body: json('{ viewer { kind } }') };
    for (let i = 0; i < 50; i++) await post(url, agent, key, viewer);
    await sleep(1000);
    const rssBefore = await rssOf(pid);

    let peak = rssBefore;
    const sampler = setInterval(() => {
      rssOf(pid).then(
        (rss) => (peak = Math.max(peak, rss)),
        () => {},
      );
    }, 100);
    const started = Date.now();
    const queue = Array.from({ length: ROUNDS }, () => cases).flat();
    const statuses: Record<string, number> = {};
    let uncoded = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const reply = await post(url, agent, key, next);
          statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
          // A 413 may reach the client as a closed connection (status 0) before it reads the answer: that is a refusal too.
          const refusedEarly = reply.status === 0 && next.body.length > 1024 * 1024;
          if (!refusedEarly && (reply.status >= 500 || reply.status === 0 || reply.code === undefined)) uncoded++;
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    // Let the collector catch up with the burst's garbage, as an idle server would.
    await sleep(3000);
    const rssAfter = await rssOf(pid);
    peak = Math.max(peak, rssAfter);
    // Still serving after the burst.
    const after = await post(url, agent, key, viewer);
    if (after.status !== 200) uncoded++;
    const growthMB = Math.round((rssAfter - rssBefore) / MB);
    return {
      requests: ROUNDS * cases.length,
      seconds: Number(seconds.toFixed(1)),
      rssBeforeMB: Math.round(rssBefore / MB),
      peakRssMB: Math.round(peak / MB),
      rssAfterMB: Math.round(rssAfter / MB),
      growthMB,
      withinBound: growthMB < HOSTILE_GROWTH_BOUND_MB,
      uncoded,
      statuses,
    };
  } finally {
    agent.destroy();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** One line for the benchmark's report. */
export function describeHostile(r: HostileResult): string {
  return (
    `Hostile input (${r.requests} requests: ${ROUNDS} rounds of ${r.requests / ROUNDS} hostile cases, ${CONCURRENCY} in flight, ${r.seconds}s) against \`keygate serve\`: ` +
    `RSS ${r.rssBeforeMB} MB before, ${r.peakRssMB} MB peak, ${r.rssAfterMB} MB after (${r.growthMB >= 0 ? '+' : ''}${r.growthMB} MB; ` +
    `bound +${HOSTILE_GROWTH_BOUND_MB} MB: ${r.withinBound ? 'within' : 'EXCEEDED'}); ${r.uncoded} answers not a coded error.`
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(here, 'hostile.ts')) {
  const result = await measureHostileBurst();
  console.log(describeHostile(result));
  console.log(`Statuses: ${JSON.stringify(result.statuses)}`);
  process.exit(result.withinBound && result.uncoded === 0 ? 0 : 1);
}
