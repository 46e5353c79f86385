import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { connectDatabase } from '../../src/database/connect.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { freshDatabaseUrl, POSTGRES_URL } from '../harness/database.js';
import { testKeygateConfig } from '../harness/keygate.js';
import { keygateCommand } from '../harness/processes.js';
import { Relay } from '../harness/relay.js';

describe('PostgreSQL unreachable at start', () => {
  it('fails with an error naming the host, never the password', async () => {
    const error = await connectDatabase({ url: 'postgres://keygate:hunter2-secret@127.0.0.1:1/keygate' }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^Cannot connect to PostgreSQL at 127\.0\.0\.1:1/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('makes `keygate serve` exit non-zero with that message', async () => {
    const env = {
      ...process.env,
      DATABASE_URL: 'postgres://keygate:hunter2-secret@127.0.0.1:1/keygate',
      KEYGATE_MASTER_KEY: randomBytes(32).toString('hex'),
      KEYGATE_SESSION_SECRET: randomBytes(32).toString('hex'),
    };
    const failure = await keygateCommand(env, 'serve').catch((e: { code: number; stderr: string; stdout: string }) => e);
    expect((failure as { code: number }).code).toBe(1);
    expect((failure as { stderr: string }).stderr).toContain('Cannot connect to PostgreSQL at 127.0.0.1:1');
    expect(JSON.stringify(failure)).not.toContain('hunter2');
  });
});

describe('PostgreSQL lost while serving', () => {
  const relay = new Relay({ host: new URL(POSTGRES_URL).hostname, port: Number(new URL(POSTGRES_URL).port || 5432) });
  let keygate: Keygate;
  let key: string;

  beforeAll(async () => {
    const direct = new URL(await freshDatabaseUrl());
    await relay.start();
    direct.host = `127.0.0.1:${relay.port}`;
    keygate = await createKeygate({
      config: await testKeygateConfig({ databaseUrl: direct.toString() }),
    });
    const tenant = await bootstrapAccount(keygate.deps, { name: 'Faults', plan: 'SCALE', ownerEmail: 'faults@keygate.test' });
    key = tenant.environments[0]!.fullAccess.secret;
  });
  afterAll(() => keygate?.close());

  const viewer = async () => {
    const res = await keygate.yoga.fetch('http://k/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ query: '{ viewer { kind } apiKeys { totalCount } }' }),
    });
    return { status: res.status, body: (await res.json()) as any, retryAfter: res.headers.get('retry-after') };
  };

  it('answers 503 with a coded INTERNAL error instead of hanging, and recovers when the database is back', async () => {
    expect((await viewer()).body.data.viewer.kind).toBe('API_KEY');
    const port = relay.port;
    await relay.cut();
    for (let i = 0; i < 3; i++) {
      const down = await viewer();
      expect(down.status).toBe(503);
      expect(down.body.errors.map((e: any) => e.extensions.code)).toEqual(['INTERNAL']);
      expect(down.retryAfter).toBe('1');
      expect(JSON.stringify(down.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/i);
    }
    await relay.start(port);
    // The pool replaces its dead connections by itself: a bounded number of tries, no restart.
    let recovered = null;
    for (let i = 0; i < 20 && !recovered; i++) {
      const up = await viewer();
      if (up.status === 200 && !up.body.errors) recovered = up;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(recovered?.body.data).toEqual({ viewer: { kind: 'API_KEY' }, apiKeys: { totalCount: 2 } });
  });
});
