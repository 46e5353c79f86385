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
});
