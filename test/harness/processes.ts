import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { buildNodeBundle } from '../../src/build.js';
import { freshDatabaseUrl } from './database.js';
import { captureLog, rememberSecretsIn } from './leak-scan.js';

const root = path.resolve(import.meta.dirname, '../..');
const running = new Set<ChildProcess>();
let bundleDir: string | undefined;
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

/** Whether a line a `keygate` process printed is a log record (pino's JSON, with a level) rather than command output. */
function isLogRecord(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const record: unknown = JSON.parse(line);
    return typeof record === 'object' && record !== null && 'level' in record;
  } catch {
    return false;
  }
}

/**
 * Hands a process's output to the end-of-run leak scan: every stderr line and
 * every stdout line that is a log record is searched for secrets; the rest of
 * stdout is the command's output (bootstrap --json prints keys by design), so
 * its secrets are remembered, to be searched for in the logs, not reported.
 */
function captureOutput(stream: 'stdout' | 'stderr', lines: string): void {
  const log: string[] = [];
  for (const line of lines.split('\n')) {
    if (stream === 'stderr' || isLogRecord(line)) log.push(line);
    else rememberSecretsIn(line);
  }
  captureLog(log.filter(Boolean).join('\n'), 'process');
}

/** Splits a child's stream into whole lines for captureOutput, however the chunks fall. */
function captureStream(child: ChildProcess, stream: 'stdout' | 'stderr'): void {
  let partial = '';
  child[stream]!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const end = text.lastIndexOf('\n');
    partial = text.slice(end + 1);
    if (end >= 0) captureOutput(stream, text.slice(0, end));
  });
  child[stream]!.on('close', () => captureOutput(stream, partial));
}

let bundle: Promise<string> | undefined;
/**
 * The CLI compiled from the sources as they are now, once per test file:
 * tests never run a dist/ built before an edit, and each process starts as
 * fast as bin/keygate.js's (tsx would compile every module again in each
 * process, seconds apiece). It sits inside the checkout (test-output/), so
 * it finds Keygate's package.json, node_modules and dist/console as
 * dist/keygate.mjs does. bin/keygate.js itself is tested in test/cli/cli.test.ts.
 */
function cliBundle(): Promise<string> {
  bundle ??= (async () => {
    mkdirSync(path.join(root, 'test-output'), { recursive: true });
    bundleDir = mkdtempSync(path.join(root, 'test-output', 'cli-'));
    const file = path.join(bundleDir, 'keygate.mjs');
    await buildNodeBundle(path.join(root, 'src/cli.ts'), file);
    return file;
  })();
  return bundle;
}

/**
 * A private data directory and database for `keygate` processes, and the
 * environment that points them there (every log line, for the leak scan,
 * plus `extra`).
 */
export async function processEnv(name: string, extra: Record<string, string> = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), `keygate-${name}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEYGATE_DATA_DIR: dataDir,
    DATABASE_URL: await freshDatabaseUrl({ fileDir: dataDir }),
    // Like the in-process Keygates: the leak scan reads every line a process logs.
    LOG_LEVEL: 'debug',
    ...extra,
  };
  return { dataDir, env };
}

/** Runs a `keygate` CLI command to completion; its output goes to the leak scan, whether it succeeds or fails. */
export async function keygateCommand(env: NodeJS.ProcessEnv, ...args: string[]) {
  const captured = (output: { stdout?: unknown; stderr?: unknown }) => {
    captureOutput('stdout', String(output.stdout ?? ''));
    captureOutput('stderr', String(output.stderr ?? ''));
  };
  try {
    const result = await promisify(execFile)(process.execPath, [await cliBundle(), ...args], { cwd: root, env });
    captured(result);
    return result;
  } catch (error) {
    captured(error as { stdout?: unknown; stderr?: unknown });
    throw error;
  }
}

export interface Bootstrap {
  account: { id: string; name: string; plan: string };
  owner: { id: string; email: string; token: string };
  environments: { id: string; name: string; fullAccessKey: { id: string; secret: string } }[];
}

/** `keygate bootstrap`: an account with its owner (and session token) and environments. */
export async function bootstrap(env: NodeJS.ProcessEnv, account: string, plan: string, email: string): Promise<Bootstrap> {
  const { stdout } = await keygateCommand(env, 'bootstrap', '--account', account, '--plan', plan, '--owner', email, '--json');
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * A loopback port free right now, for a process that must know another's
 * address before that one starts (an upstream that verifies Keygate's tokens
 * against the JWKS of a Keygate started after it).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `keygate serve` on loopback (on `port`, else one the OS chooses); resolves once it listens. */
export async function startServeProcess(
  env: NodeJS.ProcessEnv,
  args: string[] = [],
  options: { port?: number } = {},
): Promise<ServeProcess> {
  const cli = await cliBundle();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'serve', ...args], {
      cwd: root,
      env: { ...env, PORT: String(options.port ?? 0), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    captureStream(child, 'stdout');
    captureStream(child, 'stderr');
    let out = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => reject(new Error(`keygate serve did not start: ${out}`)), 30_000);
    const collect = (chunk: Buffer) => {
      out += chunk;
      const match = /Keygate on (http:\/\/[^/\s]+)\/graphql/.exec(out);
      if (match) {
        clearTimeout(timer);
        // Listening: the start-up output is no longer needed (the leak scan has its own copy of every line).
        child.stdout!.off('data', collect);
        child.stderr!.off('data', collect);
        resolve({
          child,
          url: match[1]!,
          stop: async () => {
            child.kill('SIGTERM');
            const code = await exited;
            running.delete(child);
            return code;
          },
        });
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`keygate serve exited with ${code}: ${out}`));
    });
  });
}

/** `fetch` that remembers every secret in a response body for the leak scan (for clients talking to a `keygate serve`). */
export const rememberingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  rememberSecretsIn(await res.clone().text());
  return res;
};

/** POSTs a GraphQL request with an API key. */
export async function postGraphQL(url: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  rememberSecretsIn(text);
  return {
    status: res.status,
    body: JSON.parse(text) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] },
  };
}
