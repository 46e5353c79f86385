import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate } from '../../src/app.js';
import { RotateApiKeyDocument } from '../../src/client/generated/graphql.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { testKeygateConfig } from '../harness/keygate.js';

let server: RunningServer;
let secret: string;
let keyId: string;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-http-'));
  const keygate = await createKeygate({
    config: await testKeygateConfig({ databaseUrl: await freshDatabaseUrl({ fileDir: dir }) }),
  });
  const tenant = await bootstrapAccount(keygate.deps, { name: 'Race', plan: 'SCALE', ownerEmail: 'race@keygate.test' });
  secret = tenant.environments[0]!.fullAccess.secret;
  keyId = tenant.environments[0]!.publishable.row.id;
  server = await startServer(keygate, { port: 0, host: '127.0.0.1' });
});
afterAll(() => server?.stop());

describe('over real HTTP', () => {
  it('20 simultaneous rotations of one key create exactly one new key', async () => {
    const body = JSON.stringify({
      query: print(RotateApiKeyDocument),
      variables: { input: { id: keyId, expireOldKeyIn: 'ONE_HOUR' } },
    });
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': secret },
          body,
        }).then((r) => r.json() as Promise<any>),
      ),
    );
    const winners = responses.filter((r) => !r.errors);
    expect(winners).toHaveLength(1);
    expect(responses.filter((r) => r.errors?.[0]?.extensions?.code === 'CONFLICT')).toHaveLength(19);
    const newId = winners[0].data.rotateApiKey.apiKey.id;
    const list = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': secret },
      body: JSON.stringify({
        query: '{ apiKeys(filter: { categories: [DEFAULT] }) { edges { node { id type status rotatedFrom { id } } } } }',
      }),
    }).then((r) => r.json() as Promise<any>);
    const publishable = list.data.apiKeys.edges.map((e: any) => e.node).filter((n: any) => n.type === 'PUBLISHABLE');
    expect(publishable).toEqual([
      { id: keyId, type: 'PUBLISHABLE', status: 'EXPIRING_SOON', rotatedFrom: null },
      { id: newId, type: 'PUBLISHABLE', status: 'ACTIVE', rotatedFrom: { id: keyId } },
    ]);
  });
});
