import { describe, expect, it } from 'vitest';
import { createKeygate } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { storedActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { capturedByThisWorker } from '../harness/leak-scan.js';
import { keygateCommand, postGraphQL, processEnv, startServeProcess } from '../harness/processes.js';

const { env } = await processEnv('serve');

describe('keygate serve', () => {
  it('serves over HTTP and, on SIGTERM, finishes and writes every activity event before exiting 0', async () => {
    const { stdout } = await keygateCommand(
      env,
      'bootstrap',
      '--account',
      'Serve',
      '--plan',
      'SCALE',
      '--owner',
      's@keygate.test',
      '--json',
    );
    const tenant = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const key = tenant.environments[0].fullAccessKey.secret as string;
    const server = await startServeProcess(env);

    const calls = 40;
    const responses = await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        postGraphQL(server.url, key, `mutation { createCustomer(input: { customerId: "serve-${i}" }) { customer { id } } }`),
      ),
    );
    expect(responses.filter((r) => r.body.data?.createCustomer?.customer?.id)).toHaveLength(calls);
    expect(await server.stop()).toBe(0);

    const keygate = await createKeygate({ config: { ...loadConfig(env), logLevel: 'silent' } });
    try {
      const events = await storedActivityEvents(keygate.deps.db, keygate.deps.database.dialect, tenant.environments[0].id);
      expect(events.filter((e) => e.field === 'createCustomer' && e.outcome === 'SUCCESS')).toHaveLength(calls);
    } finally {
      await keygate.close();
    }
  });

  it('hands every log record it prints to the leak scan, and not the keys --demo prints on purpose (remembered instead)', async () => {
    const { env: demoEnv } = await processEnv('serve-demo');
    const before = capturedByThisWorker();
    const server = await startServeProcess(demoEnv, ['--demo']);
    const unknownKey = `server-${'0'.repeat(49)}`;
    expect((await postGraphQL(server.url, unknownKey, '{ viewer { kind } }')).status).toBe(401);
    expect(await server.stop()).toBe(0);
    const after = capturedByThisWorker();
    const logged = after.logs.process.slice(before.logs.process.length).trim().split('\n');
    const remembered = after.secrets.slice(before.secrets.length);

    // Only log records: the request and the shutdown are there, the banner and the printed keys are not.
    expect(logged.map((line) => JSON.parse(line).msg)).toEqual(expect.arrayContaining(['request', 'shutting down']));
    expect(logged.join('\n')).not.toContain('Keygate on');
    const demoKeys = remembered.filter((secret) => /^(server|client)-/.test(secret));
    expect(demoKeys).toHaveLength(4);
    for (const key of demoKeys) expect(logged.join('\n')).not.toContain(key);
  });

  it('writes its access log while it runs, gathered into fewer writes, and every line by the time it exits', async () => {
    const { env: logEnv } = await processEnv('serve-log');
    const server = await startServeProcess(logEnv, ['--demo']);
    let printed = '';
    server.child.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    const requestIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': `server-${'0'.repeat(49)}` },
        body: JSON.stringify({ query: '{ viewer { kind } }' }),
      });
      requestIds.push(res.headers.get('x-request-id')!);
    }
    const logged = () =>
      printed
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; requestId?: string });
    // Three short lines are far below one gathered write: they still arrive while the server runs (the periodic flush).
    const deadline = Date.now() + 10_000;
    while (logged().filter((r) => r.msg === 'request').length < 3 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.child.exitCode).toBeNull();
    expect(
      logged()
        .filter((r) => r.msg === 'request')
        .map((r) => r.requestId),
    ).toEqual(requestIds);
    // Lines still gathered when it stops are written on the way out.
    await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await server.stop()).toBe(0);
    expect(
      logged()
        .map((r) => r.msg)
        .slice(-2),
    ).toEqual(['request', 'shutting down']);
  });
});
