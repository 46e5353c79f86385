import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createKeygate } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { keygateCommand, postGraphQL, processEnv, startServeProcess } from '../harness/processes.js';

/**
 * kill -9 mid-burst: every acknowledged createScopedKey is present with its
 * KEY_CREATED audit event after a restart on the same database, the database
 * passes an integrity check, and the server serves again.
 */
const { env } = await processEnv('durability', { KEYGATE_RATE_LIMIT: '0' });

const CREATE = 'mutation($name: String!) { createScopedKey(input: { name: $name, scopes: ["coupons:read"] }) { apiKey { id } } }';

describe('durability under SIGKILL', () => {
  it('keeps every acknowledged mutation with its audit event, passes integrity_check and serves again', async () => {
    const { stdout } = await keygateCommand(
      env,
      'bootstrap',
      '--account',
      'Durable',
      '--plan',
      'SCALE',
      '--owner',
      'd@keygate.test',
      '--json',
    );
    const key = JSON.parse(stdout.trim().split('\n').at(-1)!).environments[0].fullAccessKey.secret as string;
    const server = await startServeProcess(env);

    const acknowledged: string[] = [];
    let killed = false;
    let sent = 0;
    const total = 200;
    const deadline = Date.now() + 30_000;
    const worker = async () => {
      while (sent < total && !killed && Date.now() < deadline) {
        const i = sent++;
        try {
          const { body } = await postGraphQL(server.url, key, CREATE, { name: `burst ${i}` });
          const id = body.data?.createScopedKey?.apiKey?.id;
          if (id) acknowledged.push(id);
        } catch {
          // Connection reset by the kill: not acknowledged.
        }
        if (!killed && acknowledged.length >= 60) {
          killed = true;
          server.child.kill('SIGKILL');
        }
      }
    };
    const exited = new Promise((done) => server.child.once('exit', done));
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(killed).toBe(true);
    await exited;
    expect(acknowledged.length).toBeGreaterThanOrEqual(60);
    expect(sent).toBeLessThan(total);

    const restarted = await startServeProcess(env);
    try {
      const check = await postGraphQL(restarted.url, key, '{ viewer { kind } }');
      expect(check.body.data).toEqual({ viewer: { kind: 'API_KEY' } });
      const again = await postGraphQL(restarted.url, key, CREATE, { name: 'after restart' });
      expect(again.body.data?.createScopedKey?.apiKey?.id).toBeTruthy();

      for (const id of acknowledged) {
        const { body } = await postGraphQL(
          restarted.url,
          key,
          'query($id: ID!) { apiKey(id: $id) { id auditLog(first: 100) { edges { node { event } } } } }',
          { id },
        );
        expect(body.errors, id).toBeUndefined();
        expect(body.data?.apiKey?.id).toBe(id);
        const events = body.data.apiKey.auditLog.edges.map((e: { node: { event: string } }) => e.node.event);
        expect(events, id).toContain('KEY_CREATED');
      }
    } finally {
      await restarted.stop();
    }

    const keygate = await createKeygate({ config: { ...loadConfig(env), logLevel: 'silent' } });
    try {
      const rows = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(keygate.deps.db);
      expect(rows.rows).toEqual([{ integrity_check: 'ok' }]);
      const stored = await keygate.deps.db
        .selectFrom('key_audit_events')
        .select('key_id')
        .where('event', '=', 'KEY_CREATED')
        .where('key_id', 'in', acknowledged)
        .execute();
      expect(new Set(stored.map((r) => r.key_id))).toEqual(new Set(acknowledged));
    } finally {
      await keygate.close();
    }
  });
});
