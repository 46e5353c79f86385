import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { capturedByThisWorker, rememberSecrets } from '../harness/leak-scan.js';
import { keygateCommand, processEnv } from '../harness/processes.js';

const root = path.resolve(import.meta.dirname, '../..');
const { dataDir, env } = await processEnv('cli');

const keygate = (...args: string[]) => keygateCommand(env, ...args);
const lastLine = (stdout: string) => stdout.trim().split('\n').at(-1)!;

describe('bin/keygate.js', () => {
  it('runs the compiled build when it is newer than every source file, and the TypeScript source otherwise', async () => {
    const newest = (dir: string) =>
      readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .reduce((max, e) => Math.max(max, statSync(path.join(e.parentPath, e.name)).mtimeMs), 0);
    const bundle = path.join(root, 'dist/keygate.mjs');
    const fresh = existsSync(bundle) && statSync(bundle).mtimeMs >= Math.max(newest('src'), newest('db'));
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    const { stdout } = await keygate('version');
    expect(stdout.trim()).toBe(`keygate ${version} (${fresh ? 'compiled' : 'source'})`);
  });
});

describe('keygate CLI', () => {
  let bootstrap: any;
  beforeAll(async () => {
    const { stdout } = await keygate(
      'bootstrap',
      '--account',
      'Acme',
      '--plan',
      'GROWTH',
      '--owner',
      'Owner@Acme.test',
      '--json',
    );
    bootstrap = JSON.parse(lastLine(stdout));
  });

  it('bootstrap --json prints the documented shape as its last line', () => {
    expect(Object.keys(bootstrap)).toEqual(['account', 'owner', 'environments']);
    expect(bootstrap.account).toEqual({ id: expect.stringMatching(/^acc_/), name: 'Acme', plan: 'GROWTH' });
    expect(bootstrap.owner).toEqual({ id: expect.stringMatching(/^usr_/), email: 'owner@acme.test', token: expect.any(String) });
    expect(bootstrap.environments.map((e: any) => [e.name, e.slug])).toEqual([
      ['Development', 'development'],
      ['Production', 'production'],
    ]);
    for (const e of bootstrap.environments) {
      expect(Object.keys(e)).toEqual(['id', 'name', 'slug', 'fullAccessKey', 'publishableKey']);
      expect(e.fullAccessKey).toEqual({ id: expect.stringMatching(/^key_/), secret: expect.stringMatching(/^server-/) });
      expect(e.publishableKey).toEqual({ id: expect.stringMatching(/^key_/), secret: expect.stringMatching(/^client-/) });
    }
  });

  it('user add --json prints id, email, role and token', async () => {
    const { stdout } = await keygate(
      'user',
      'add',
      '--account',
      bootstrap.account.id,
      '--email',
      'm@acme.test',
      '--role',
      'member',
      '--json',
    );
    expect(JSON.parse(lastLine(stdout))).toEqual({
      id: expect.stringMatching(/^usr_/),
      email: 'm@acme.test',
      role: 'MEMBER',
      token: expect.any(String),
    });
  });

  it('token mints a session token for a user; unknown users and bad input fail with a message', async () => {
    const { stdout } = await keygate('token', '--email', 'owner@acme.test', '--ttl', '15m');
    expect(stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    await expect(keygate('token', '--email', 'nobody@acme.test')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('No user'),
    });
    await expect(keygate('bootstrap', '--account', 'X', '--plan', 'GOLD', '--owner', 'a@b.c')).rejects.toMatchObject({
      stderr: expect.stringContaining('plan'),
    });
    await expect(keygate('user', 'add', '--account', 'acc_nope', '--email', 'a@b.c', '--role', 'OWNER')).rejects.toMatchObject({
      stderr: expect.stringContaining('Account not found'),
    });
  });

  it('keeps generated development secrets private (0600) and never prints them', async () => {
    const { statSync, readFileSync } = await import('node:fs');
    const file = path.join(dataDir, 'keygate_master_key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const masterKey = readFileSync(file, 'utf8').trim();
    // And no log line of any process or test Keygate holds it (the end-of-run leak scan).
    rememberSecrets(masterKey);
    const { stdout, stderr } = await keygate('migrate');
    expect(stdout + stderr).not.toContain(masterKey);
  });
});

describe('the leak scan of keygate processes', () => {
  it('searches every stderr line of a command, and remembers the secrets it prints on purpose instead of reporting them', async () => {
    const before = capturedByThisWorker();
    const { stdout } = await keygate('bootstrap', '--account', 'Scan', '--plan', 'FREE', '--owner', 'scan@acme.test', '--json');
    const printed = JSON.parse(lastLine(stdout));
    await expect(keygate('token', '--email', 'nobody@acme.test')).rejects.toMatchObject({ code: 2 });
    const after = capturedByThisWorker();
    const logged = after.logs.process.slice(before.logs.process.length);
    const remembered = after.secrets.slice(before.secrets.length);

    expect(logged).toContain('keygate: No user with email nobody@acme.test.');
    const secrets = [
      printed.owner.token,
      ...printed.environments.flatMap((e: any) => [e.fullAccessKey.secret, e.publishableKey.secret]),
    ];
    expect(secrets).toHaveLength(5);
    for (const secret of secrets) {
      expect(remembered).toContain(secret);
      expect(logged).not.toContain(secret);
    }
  });
});

describe('keygate sign-customer-token', () => {
  it('signs platform-form and expiring tokens that verify against the environment secret', async () => {
    const { stdout } = await keygate('bootstrap', '--account', 'Tokens', '--plan', 'FREE', '--owner', 'tok@acme.test', '--json');
    const environment = JSON.parse(lastLine(stdout)).environments[0];
    const platform = (
      await keygate('sign-customer-token', '--environment', environment.id, '--customer', 'cus-42')
    ).stdout.trim();
    expect(platform).toMatch(/^HMAC-SHA256 cus-42:[0-9a-f]{64}$/);
    const expiring = (
      await keygate('sign-customer-token', '--environment', environment.id, '--customer', 'cus-42', '--expires-in', '15m')
    ).stdout.trim();
    const match = /^HMAC-SHA256-EXP cus-42:(\d+):[0-9a-f]{64}$/.exec(expiring);
    expect(match).not.toBeNull();
    const expiresAt = Number(match![1]) * 1000;
    expect(expiresAt - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(15 * 60_000);

    // The secret the CLI signed with is the environment's: the full access key can read it.
    const { createKeygate } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/config.js');
    const { createHmac } = await import('node:crypto');
    const app = await createKeygate({ config: { ...loadConfig(env), logLevel: 'silent' } });
    try {
      const res = await app.yoga.fetch('http://k/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': environment.fullAccessKey.secret },
        body: JSON.stringify({ query: `{ environment(id: "${environment.id}") { signingSecret } }` }),
      });
      const secret = ((await res.json()) as any).data.environment.signingSecret;
      rememberSecrets(secret);
      expect(platform).toBe(`HMAC-SHA256 cus-42:${createHmac('sha256', secret).update('cus-42').digest('hex')}`);
    } finally {
      await app.close();
    }
    await expect(keygate('sign-customer-token', '--environment', 'env_nope', '--customer', 'c')).rejects.toMatchObject({
      stderr: expect.stringContaining('No environment'),
    });
  });
});

describe('several keygate commands at once on one SQLite database', () => {
  it('wait for each other instead of failing with "database is locked"', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        keygate('bootstrap', '--account', `Parallel ${i}`, '--plan', 'FREE', '--owner', `p${i}@acme.test`, '--json'),
      ),
    );
    const failures = results
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason?.stderr ?? r));
    expect(failures).toEqual([]);
  });
});
