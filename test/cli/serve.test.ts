import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeygate } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { freshDatabaseUrl } from '../harness/database.js';

const root = path.resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'keygate-serve-'));
const env = {
  ...process.env,
  KEYGATE_DATA_DIR: dataDir,
  DATABASE_URL: await freshDatabaseUrl({ fileDir: dataDir }),
  LOG_LEVEL: 'warn',
  PORT: '0',
  HOST: '127.0.0.1',
};
const bin = path.join(root, 'bin/keygate.js');

let server: ChildProcess | null = null;
afterAll(() => {
  server?.kill('SIGKILL');
});

/** Starts `keygate serve` and resolves with its URL once it listens. */
function serve(): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /Keygate on (http:\/\/[^/\s]+)\/graphql/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]! });
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

describe('keygate serve', () => {
  it('serves over HTTP and, on SIGTERM, finishes and writes every activity event before exiting 0', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bin, 'bootstrap', '--account', 'Serve', '--plan', 'SCALE', '--owner', 's@keygate.test', '--json'],
      { cwd: root, env },
    );
    const tenant = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const key = tenant.environments[0].fullAccessKey.secret as string;
    const started = await serve();
    server = started.child;

    const calls = 40;
    const responses = await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        fetch(`${started.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': key },
          body: JSON.stringify({ query: `mutation { createCustomer(input: { customerId: "serve-${i}" }) { customer { id } } }` }),
        }).then((r) => r.json() as Promise<any>),
      ),
    );
    expect(responses.filter((r) => r.data?.createCustomer?.customer?.id)).toHaveLength(calls);

    const exited = new Promise<number | null>((resolve) => started.child.on('exit', (code) => resolve(code)));
    started.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    server = null;

    const keygate = await createKeygate({ config: { ...loadConfig(env), logLevel: 'silent' } });
    try {
      const events = await keygate.deps.db
        .selectFrom('activity_events')
        .select(['field', 'outcome'])
        .where('environment_id', '=', tenant.environments[0].id)
        .execute();
      expect(events.filter((e) => e.field === 'createCustomer' && e.outcome === 'SUCCESS')).toHaveLength(calls);
    } finally {
      await keygate.close();
    }
  });
});
