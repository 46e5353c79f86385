import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNodeBundle } from '../../src/build.js';
import { capturedByThisWorker, rememberSecrets } from '../harness/leak-scan.js';
import { keygateCommand, processEnv } from '../harness/processes.js';

const root = path.resolve(import.meta.dirname, '../..');
const { dataDir, env } = await processEnv('cli');

const keygate = (...args: string[]) => keygateCommand(env, ...args);
const lastLine = (stdout: string) => stdout.trim().split('\n').at(-1)!;
const { version, dependencies } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('bin/keygate.js', () => {
  const packages: string[] = [];
  afterAll(() => {
    for (const dir of packages) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Keygate as installed in a directory of its own: package.json, bin/keygate.js
   * and node_modules, and TypeScript sources newer than anything built, which
   * must never run (each throws if it does).
   */
  function installedPackage(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'keygate-installed-'));
    packages.push(dir);
    for (const sub of ['bin', 'src', 'db']) mkdirSync(path.join(dir, sub));
    copyFileSync(path.join(root, 'bin/keygate.js'), path.join(dir, 'bin/keygate.js'));
    copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    for (const source of ['src/cli.ts', 'db/edited.ts']) {
      writeFileSync(path.join(dir, source), 'throw new Error("the TypeScript sources ran");\n');
      const later = new Date(Date.now() + 3_600_000);
      utimesSync(path.join(dir, source), later, later);
    }
    return dir;
  }
  const run = (dir: string, runEnv: NodeJS.ProcessEnv, ...args: string[]) =>
    promisify(execFile)(process.execPath, [path.join(dir, 'bin/keygate.js'), ...args], { cwd: dir, env: runEnv });

  let built: { dir: string; metafile: Metafile };
  beforeAll(async () => {
    const dir = installedPackage();
    built = { dir, metafile: await buildNodeBundle(path.join(root, 'src/cli.ts'), path.join(dir, 'dist/keygate.mjs')) };
  });

  it('runs the compiled build in dist/, even where a source file is newer than it', async () => {
    const { env: ownEnv } = await processEnv('bin');
    expect((await run(built.dir, ownEnv, 'version')).stdout.trim()).toBe(`keygate ${version} (compiled)`);
    expect((await run(built.dir, ownEnv, 'migrate')).stdout).toMatch(/^Applied: /);
  });

  it('bin/keygate.js and the compiled CLI load only packages of `dependencies`: build tools (tsx, esbuild) stay devDependencies', () => {
    const packageOf = (specifier: string) => specifier.split('/', specifier.startsWith('@') ? 2 : 1).join('/');
    const fromBin = [...readFileSync(path.join(root, 'bin/keygate.js'), 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)];
    const fromBundle = Object.values(built.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external));
    const loaded = new Set(
      [...fromBin.map((m) => m[1]!), ...fromBundle.map((i) => i.path)]
        .filter((s) => !isBuiltin(s) && !s.startsWith('.'))
        .map(packageOf),
    );
    expect([...loaded].filter((name) => !Object.hasOwn(dependencies, name))).toEqual([]);
    // Loaded only when configured, but loaded all the same: a dependency.
    expect(loaded).toContain('ioredis');
  });

  it('without dist/ says to run `npm run build` and exits 1, running no TypeScript', async () => {
    const dir = installedPackage();
    const failure = await run(dir, env, 'version').then(
      () => null,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failure).toMatchObject({ code: 1, stdout: '' });
    expect(failure!.stderr).toContain('dist/keygate.mjs is missing: build it with `npm run build`');
    expect(failure!.stderr).toContain('npm ci --omit=dev');
    expect(failure!.stderr).not.toContain('the TypeScript sources ran');
  });

  it('leaves the TypeScript sources to the development command (tsx src/cli.ts, as `npm run dev` runs it)', async () => {
    const tsx = path.join(root, 'node_modules/.bin/tsx');
    const { stdout } = await promisify(execFile)(tsx, ['src/cli.ts', 'version'], { cwd: root, env });
    expect(stdout.trim()).toBe(`keygate ${version} (source)`);
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
