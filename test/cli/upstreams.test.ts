import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rememberSecrets } from '../harness/leak-scan.js';
import { freePort, keygateCommand, processEnv, startServeProcess } from '../harness/processes.js';

/**
 * What `keygate serve` and `keygate upstream check` say about an upstreams
 * file, as processes: SDL from files (the example's own, and broken copies
 * of it), so no upstream needs to run unless a case is about reaching one.
 */
const root = path.resolve(import.meta.dirname, '../..');
const ORDERS_SDL = readFileSync(path.join(root, 'examples/orders/orders.graphql'), 'utf8');
const CATALOG_SDL = /* GraphQL */ `
  type Query {
    "Products on sale."
    products: [Product!]! @requiresScopes(scopes: [["catalog:read"]])
  }
  type Product { id: ID! name: String! }
`;

const identityPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
rememberSecrets(identityPem);
const { dataDir, env } = await processEnv('upstreams-cli', { KEYGATE_IDENTITY_KEY: identityPem });

/** Writes SDL files and an upstreams file naming `upstreams` into a fresh directory; returns the upstreams file. */
function config(upstreams: Record<string, unknown>[], sdl: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-upstreams-cli-'));
  for (const [name, text] of Object.entries(sdl)) writeFileSync(path.join(dir, name), text);
  const file = path.join(dir, 'upstreams.json');
  writeFileSync(file, JSON.stringify({ upstreams }));
  return file;
}
const fromFile = (name: string, file: string) => ({ name, url: 'http://127.0.0.1:9/graphql', schema: { file } });

/** Every secret Keygate holds in this data directory and environment: none may appear in what a process prints. */
function secrets(): string[] {
  const files = ['keygate_master_key', 'keygate_session_secret'].map((f) => readFileSync(path.join(dataDir, f), 'utf8').trim());
  rememberSecrets(...files);
  return [...files, identityPem.split('\n')[1]!];
}

/** Starts `keygate serve` with this upstreams file, expecting it to refuse: its exit code and everything it printed. */
async function serveRefuses(file: string): Promise<{ code: number; output: string }> {
  try {
    const server = await startServeProcess({ ...env, KEYGATE_UPSTREAMS: file });
    await server.stop();
  } catch (error) {
    const [, code, output] = /^keygate serve exited with (\S+): ([\s\S]*)$/.exec((error as Error).message) ?? [];
    return { code: Number(code), output: output ?? String(error) };
  }
  throw new Error(`keygate serve started with ${file}`);
}

describe('keygate serve with a bad upstreams file', () => {
  const cases: [string, () => Promise<string> | string, RegExp[]][] = [
    [
      'a schema file that does not exist',
      () => config([fromFile('orders', 'orders-v2.graphql')]),
      [/upstreams\.json: upstream "orders": schema file \S+orders-v2\.graphql does not exist\./],
    ],
    [
      'a @requiresScopes with an argument it does not have',
      () =>
        config([fromFile('orders', 'orders.graphql')], {
          'orders.graphql': ORDERS_SDL.replace(
            '@requiresScopes(scopes: [["shipments:read"]])',
            '@requiresScopes(scope: "shipments:read")',
          ),
        }),
      [
        /upstreams\.json \(SDL \S+orders\.graphql\): upstream "orders": its SDL is not a valid schema: Unknown argument "scope" on directive "@requiresScopes"/,
      ],
    ],
    [
      'a scope that is not <resource>:<action> in lower case',
      () =>
        config([fromFile('orders', 'orders.graphql')], {
          'orders.graphql': ORDERS_SDL.replace('"orders:write"', '"Orders:Write"'),
        }),
      [
        /upstreams\.json \(SDL \S+orders\.graphql\): upstream "orders": Mutation\.placeOrder: scope "Orders:Write" is not <resource>:<action>/,
      ],
    ],
    [
      'a root field Keygate itself serves',
      () =>
        config([fromFile('orders', 'orders.graphql')], {
          'orders.graphql': ORDERS_SDL.replace('caller: Caller!', 'viewer: Caller!'),
        }),
      [/upstreams\.json: root field Query\.viewer is defined by both Keygate and upstream "orders"/],
    ],
    [
      'a type two upstreams both define',
      () =>
        config([fromFile('orders', 'orders.graphql'), fromFile('returns', 'returns.graphql')], {
          'orders.graphql': ORDERS_SDL,
          'returns.graphql': 'type Query { returns: [Order!]! }\ntype Order { id: ID! }',
        }),
      [/upstreams\.json: type Order is defined by both upstream "orders" and upstream "returns"/],
    ],
    [
      'an upstream that cannot be reached at start',
      async () => config([{ name: 'orders', url: `http://127.0.0.1:${await freePort()}/graphql`, schema: { federation: true } }]),
      [
        /upstreams\.json: upstream "orders": could not read its SDL through \{ _service \{ sdl \} \}: Upstream orders is unavailable\./,
      ],
    ],
    [
      'a URL with credentials in it',
      () => config([{ name: 'orders', url: 'http://ops:hunter2@127.0.0.1:9/graphql', schema: { federation: true } }]),
      [/upstream "orders": url must not carry credentials\./],
    ],
    [
      'deduplicate that is not true or false',
      () => config([{ ...fromFile('orders', 'orders.graphql'), deduplicate: 'yes' }], { 'orders.graphql': ORDERS_SDL }),
      [/upstream "orders": deduplicate must be true or false, got "yes"\./],
    ],
    [
      'a file that is not JSON',
      () => {
        const file = config([]);
        writeFileSync(file, '{ "upstreams": [ ');
        return file;
      },
      [/upstreams\.json: not valid JSON/],
    ],
  ];

  for (const [what, write, messages] of cases) {
    it(`exits 1 naming the problem, and prints no secret: ${what}`, async () => {
      const { code, output } = await serveRefuses(await write());
      expect(code).toBe(1);
      for (const message of messages) expect(output).toMatch(message);
      expect(output).not.toContain('Keygate on');
      for (const secret of [...secrets(), 'hunter2']) expect(output).not.toContain(secret);
    });
  }
});

describe('keygate upstream check', () => {
  it('prints each upstream’s root fields and scopes and exits 0 on a good file', async () => {
    const file = config([fromFile('orders', 'orders.graphql'), fromFile('catalog', 'catalog.graphql')], {
      'orders.graphql': ORDERS_SDL,
      'catalog.graphql': CATALOG_SDL,
    });
    const { stdout } = await keygateCommand(env, 'upstream', 'check', '--file', file);
    expect(stdout).toContain(`Upstreams file ${file}`);
    expect(stdout).toContain('✓ orders: 5 root fields');
    expect(stdout).toContain('✓ catalog: 1 root field\n');
    expect(stdout).toMatch(/orders:read_public\s+READ\s+Where an order's parcel is/);
    expect(stdout).toMatch(/shipments:read\s+READ\s+Carrier, tracking number/);
    expect(stdout).toMatch(/catalog:read\s+READ\s+Products on sale\./);
    expect(stdout.trim().split('\n').at(-1)).toBe('No problems.');
  });

  it('reads KEYGATE_UPSTREAMS when no --file is given', async () => {
    const file = config([fromFile('catalog', 'catalog.graphql')], { 'catalog.graphql': CATALOG_SDL });
    const { stdout } = await keygateCommand({ ...env, KEYGATE_UPSTREAMS: file }, 'upstream', 'check');
    expect(stdout).toContain('✓ catalog: 1 root field');
  });

  it('reports every broken upstream and the good ones beside them, and exits 1', async () => {
    const file = config(
      [
        fromFile('catalog', 'catalog.graphql'),
        fromFile('orders', 'orders.graphql'),
        { name: 'billing', url: `http://127.0.0.1:${await freePort()}/graphql`, schema: { federation: true } },
      ],
      { 'catalog.graphql': CATALOG_SDL, 'orders.graphql': ORDERS_SDL.replace('"orders:write"', '"orders-write"') },
    );
    const failure = await keygateCommand(env, 'upstream', 'check', '--file', file).then(
      () => null,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure!.stdout).toContain('✓ catalog: 1 root field');
    expect(failure!.stdout).toMatch(/✗ orders: .*scope "orders-write" is not <resource>:<action>/);
    expect(failure!.stdout).toMatch(/✗ billing: .*Upstream billing is unavailable\./);
    expect(failure!.stdout.trim().split('\n').at(-1)).toBe('2 problems.');
  });

  it('reports a collision naming both sources, and exits 1', async () => {
    const file = config([fromFile('orders', 'orders.graphql'), fromFile('shop', 'orders.graphql')], {
      'orders.graphql': ORDERS_SDL,
    });
    const failure = await keygateCommand(env, 'upstream', 'check', '--file', file).then(
      () => null,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure!.stdout).toMatch(/✗ collision: .* is defined by both upstream "orders" and upstream "shop"\./);
  });

  it('exits 1 naming the file when the file itself is wrong, and 2 when none is named', async () => {
    const file = config([fromFile('orders', 'missing.graphql')]);
    await expect(keygateCommand(env, 'upstream', 'check', '--file', file)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/upstream "orders": schema file \S+missing\.graphql does not exist\./),
    });
    const withoutFile = { ...env };
    delete withoutFile.KEYGATE_UPSTREAMS;
    await expect(keygateCommand(withoutFile, 'upstream', 'check')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--file PATH or KEYGATE_UPSTREAMS'),
    });
  });
});
