import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { freshDatabaseUrl } from './database.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/keygate.js');
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * A private data directory and database for `keygate` processes, and the
 * environment that points them there (quiet logs, plus `extra`).
 */
export async function processEnv(name: string, extra: Record<string, string> = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), `keygate-${name}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KEYGATE_DATA_DIR: dataDir,
    DATABASE_URL: await freshDatabaseUrl({ fileDir: dataDir }),
    LOG_LEVEL: 'warn',
    ...extra,
  };
  return { dataDir, env };
}

/** Runs a `keygate` CLI command to completion. */
export function keygateCommand(env: NodeJS.ProcessEnv, ...args: string[]) {
  return promisify(execFile)(process.execPath, [bin, ...args], { cwd: root, env });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `keygate serve` on a loopback port chosen by the OS; resolves once it listens. */
export function startServeProcess(env: NodeJS.ProcessEnv, args: string[] = []): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', ...args], {
      cwd: root,
      env: { ...env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let out = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => reject(new Error(`keygate serve did not start: ${out}`)), 30_000);
    const collect = (chunk: Buffer) => {
      out += chunk;
      const match = /Keygate on (http:\/\/[^/\s]+)\/graphql/.exec(out);
      if (match) {
        clearTimeout(timer);
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

/** POSTs a GraphQL request with an API key. */
export async function postGraphQL(url: string, key: string, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] },
  };
}
