import { describe, expect, it } from 'vitest';
import { createKeygate } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
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
