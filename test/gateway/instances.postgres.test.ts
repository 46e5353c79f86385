import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { testKeygateConfig } from '../harness/keygate.js';
import { rememberSecrets } from '../harness/leak-scan.js';
import { startYogaUpstream, type TestUpstream, upstreamsFile } from '../harness/upstreams.js';

/** Two instances on one PostgreSQL database, each with an identity key of its own. */
const BASE = /* GraphQL */ `
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
  type Query { stock: Int @requiresScopes(scopes: [["stock:read"]]) }
`;
const MORE = `${BASE}\nextend type Query { forecast: Int @requiresScopes(scopes: [["forecast:read"]]) }`;

let sdl = BASE;
let upstream: TestUpstream;
let a: Keygate;
let b: Keygate;
let fullAccess: string;

beforeAll(async () => {
  upstream = await startYogaUpstream('stock', () => sdl, { Query: { stock: () => 7, forecast: () => 9 } });
  const databaseUrl = await freshDatabaseUrl();
  const file = upstreamsFile([upstream], { stock: { reloadSeconds: 0 } });
  const instance = async () =>
    createKeygate({
      config: await testKeygateConfig({
        databaseUrl,
        upstreamsFile: file,
        dataDir: mkdtempSync(path.join(tmpdir(), 'keygate-instance-')),
      }),
    });
  a = await instance();
  b = await instance();
  const boot = await bootstrapAccount(a.deps, { name: 'Two', plan: 'SCALE', ownerEmail: 'two@instances.test' });
  fullAccess = boot.environments[0]!.fullAccess.secret;
  rememberSecrets(fullAccess);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

const ask = (keygate: Keygate, query: string, headers: Record<string, string> = {}) =>
  keygate.yoga.fetch('http://keygate.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': fullAccess, ...headers },
    body: JSON.stringify({ query }),
  });

describe('upstreams over several instances (PostgreSQL)', () => {
  it('serves, from any instance, a JWKS that verifies the identity tokens every instance signs', async () => {
    const tokens: string[] = [];
    for (const keygate of [a, b]) {
      const from = upstream.received.length;
      expect((await ask(keygate, '{ stock }')).status).toBe(200);
      tokens.push(String(upstream.received.slice(from).find((r) => r.query.includes('stock'))!.headers.authorization).slice(7));
    }
    const [fromA, fromB] = tokens as [string, string];
    expect(JSON.parse(Buffer.from(fromA.split('.')[0]!, 'base64url').toString()).kid).not.toBe(
      JSON.parse(Buffer.from(fromB.split('.')[0]!, 'base64url').toString()).kid,
    );
    for (const keygate of [a, b]) {
      const jwks = createLocalJWKSet(
        (await (await keygate.yoga.fetch('http://keygate.test/.well-known/jwks.json')).json()) as never,
      );
      for (const token of tokens) await expect(jwtVerify(token, jwks, { audience: 'stock' })).resolves.toBeTruthy();
    }
  });

  it('reloads every instance when one of them loads a new scope', async () => {
    sdl = MORE;
    expect(await a.deps.gateway.reload('test')).toBe(true);
    const permissions = async (keygate: Keygate) =>
      ((await (await ask(keygate, '{ viewer { permissions } }')).json()) as { data: { viewer: { permissions: string[] } } }).data
        .viewer.permissions;
    expect(await permissions(a)).toContain('forecast:read');
    await expect.poll(() => permissions(b), { timeout: 5000 }).toContain('forecast:read');
    const answer = (await (await ask(b, '{ forecast }')).json()) as unknown;
    expect(answer).toEqual({ data: { forecast: 9 } });
  });
});
