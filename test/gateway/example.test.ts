import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes } from '../harness/keygate.js';
import { rememberSecrets } from '../harness/leak-scan.js';
import {
  bootstrap,
  freePort,
  keygateCommand,
  processEnv,
  rememberingFetch,
  type ServeProcess,
  startServeProcess,
} from '../harness/processes.js';

/**
 * examples/orders as the README runs it: the example's own process (what
 * its `npm start` runs) and a real `keygate serve` (the compiled CLI) in
 * front of it, talking over loopback HTTP only.
 */
const root = path.resolve(import.meta.dirname, '../..');
const exampleDir = path.join(root, 'examples/orders');
const exampleSdl = readFileSync(path.join(exampleDir, 'orders.graphql'), 'utf8');
const exampleUpstreams = JSON.parse(readFileSync(path.join(exampleDir, 'upstreams.json'), 'utf8')) as {
  upstreams: Record<string, unknown>[];
};

/** One line of the example's request log: what reached it, and who it verified (or why it refused). */
interface ExampleRecord {
  query: string;
  environment?: string;
  subject?: string;
  refused?: string;
}

interface ExampleProcess {
  url: string;
  received: ExampleRecord[];
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts the example as `npm start` in examples/orders does, on a port the OS chooses. */
function startExample(env: Record<string, string>): Promise<ExampleProcess> {
  const { scripts } = JSON.parse(readFileSync(path.join(exampleDir, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [command, ...args] = scripts.start.split(' ');
  expect(command).toBe('node');
  const child = spawn(process.execPath, args, {
    cwd: exampleDir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  const received: ExampleRecord[] = [];
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const started = /^Orders service on (http:\/\/\S+)$/.exec(line);
      if (started)
        resolve({
          url: started[1]!,
          received,
          stop: async () => {
            child.kill('SIGTERM');
            await exited;
            children.delete(child);
          },
        });
      else if (line.startsWith('{')) received.push(JSON.parse(line) as ExampleRecord);
    });
    void exited.then(() => reject(new Error(`the orders example exited before listening: ${stderr}`)));
  });
}

/** A `KEYGATE_UPSTREAMS` file: the example's own upstreams.json, pointed at `url`, with `settings` on top. */
function upstreamsFileFor(file: string, url: string, settings: Record<string, unknown> = {}): string {
  const [orders, ...others] = exampleUpstreams.upstreams;
  writeFileSync(file, JSON.stringify({ upstreams: [{ ...orders, url, ...settings }, ...others] }));
  return file;
}

interface Environment {
  id: string;
  fullAccessKey: { id: string; secret: string };
}
interface Tenant {
  account: { id: string };
  owner: { token: string };
  environments: [Environment, Environment];
}
type Body = { data?: any; errors?: { message: string; path?: string[]; extensions?: { code?: string } }[] };

const identity = generateKeyPairSync('ed25519');
const identityPem = identity.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
rememberSecrets(identityPem);

let example: ExampleProcess;
let keygate: ServeProcess;
let keygateUrl: string;
let configFile: string;
let env: NodeJS.ProcessEnv;
let shop: Tenant;
let other: Tenant;

async function tenant(name: string): Promise<Tenant> {
  const { account, owner, environments } = await bootstrap(env, name, 'SCALE', `${name}@shop.test`);
  return { account, owner, environments: [environments[0]!, environments[1]!] };
}

beforeAll(async () => {
  // The example fetches Keygate's JWKS, Keygate reads the example's SDL at start: the example first, on Keygate's port-to-be.
  const port = await freePort();
  keygateUrl = `http://127.0.0.1:${port}`;
  example = await startExample({ KEYGATE_URL: keygateUrl });
  // Only SIGHUP reloads in this file, so what the reload test sees is SIGHUP's doing.
  configFile = upstreamsFileFor(path.join(mkdtempSync(path.join(tmpdir(), 'keygate-example-')), 'upstreams.json'), example.url, {
    reloadSeconds: 0,
  });
  ({ env } = await processEnv('example', { KEYGATE_UPSTREAMS: configFile, KEYGATE_IDENTITY_KEY: identityPem }));
  shop = await tenant('shop');
  other = await tenant('other');
  keygate = await startServeProcess(env, [], { port });
});

async function ask(headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) {
  const res = await rememberingFetch(`${keygate.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

const key = (secret: string) => ({ 'x-api-key': secret });
const dev = () => shop.environments[0];
const prod = () => shop.environments[1];

async function scopedKey(environment: Environment, scopes: string[]) {
  const { body } = await ask(
    key(environment.fullAccessKey.secret),
    'mutation($s: [String!]!) { createScopedKey(input: { name: "example", scopes: $s }) { apiKey { id } secret } }',
    { s: scopes },
  );
  expect(body.errors).toBeUndefined();
  return { id: body.data.createScopedKey.apiKey.id as string, secret: body.data.createScopedKey.secret as string };
}

const placeOrder = /* GraphQL */ `
  mutation {
    placeOrder(input: { customerId: "cus_lin", lineItems: [{ sku: "MUG-01", quantity: 3 }] }) { id totalCents placedBy }
  }
`;

describe('the orders example behind keygate serve', () => {
  it('answers a key holding orders:read with its own environment’s orders, as the example verified the caller', async () => {
    const reader = await scopedKey(dev(), ['orders:read']);
    const from = example.received.length;
    const { status, body } = await ask(
      key(reader.secret),
      '{ orders { id status lineItems { sku quantity } } caller { environment subject principal scopes } }',
    );
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.orders.map((o: { id: string }) => o.id)).toEqual(['ord_2', 'ord_1']);
    expect(body.data.orders[1].lineItems).toEqual([
      { sku: 'MUG-01', quantity: 1 },
      { sku: 'CAP-03', quantity: 1 },
    ]);
    expect(body.data.caller).toEqual({
      environment: dev().id,
      subject: reader.id,
      principal: 'api_key',
      scopes: expect.arrayContaining(['orders:read', 'orders:read_public']),
    });
    const reached = example.received.slice(from);
    expect(reached.length).toBeGreaterThan(0);
    for (const record of reached) expect(record).toMatchObject({ environment: dev().id, subject: reader.id });
  });

  it('keeps environments apart: an order placed in Development, by the key the token names, is not among Production’s', async () => {
    const placed = await ask(key(dev().fullAccessKey.secret), placeOrder);
    expect(placed.body.errors).toBeUndefined();
    expect(placed.body.data.placeOrder).toEqual({ id: 'ord_3', totalCents: 3600, placedBy: dev().fullAccessKey.id });
    const ids = async (environment: Environment) =>
      (await ask(key(environment.fullAccessKey.secret), '{ orders { id } }')).body.data.orders.map((o: { id: string }) => o.id);
    expect(await ids(dev())).toEqual(['ord_3', 'ord_2', 'ord_1']);
    expect(await ids(prod())).toEqual(['ord_2', 'ord_1']);
  });

  it('answers a field the key lacks the scope of null with FORBIDDEN naming shipments:read, and never sends it to the example', async () => {
    const reader = await scopedKey(dev(), ['orders:read']);
    const from = example.received.length;
    const denied = await ask(key(reader.secret), '{ order(id: "ord_1") { id status shipment { carrier } } }');
    expect(denied.body.data).toEqual({ order: { id: 'ord_1', status: 'SHIPPED', shipment: null } });
    expect(codes(denied.body as never)).toEqual(['FORBIDDEN']);
    expect(denied.body.errors![0]!.path).toEqual(['order', 'shipment']);
    expect(denied.body.errors![0]!.message).toContain('shipments:read');
    const sent = example.received.slice(from);
    expect(sent.map((r) => r.query).join('\n')).toContain('order(');
    expect(sent.map((r) => r.query).join('\n')).not.toContain('shipment');

    // Its twin: a key that holds shipments:read gets the field from the example.
    const shipper = await scopedKey(dev(), ['orders:read', 'shipments:read']);
    const allowed = await ask(key(shipper.secret), '{ order(id: "ord_1") { shipment { carrier } } }');
    expect(allowed.body).toEqual({ data: { order: { shipment: { carrier: 'DHL' } } } });
  });

  it('never sends a mutation the key may not run: FORBIDDEN naming orders:write, and no order is placed', async () => {
    const reader = await scopedKey(prod(), ['orders:read']);
    const from = example.received.length;
    const { body } = await ask(key(reader.secret), placeOrder);
    expect(codes(body as never)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.message).toContain('orders:write');
    expect(example.received.slice(from).filter((r) => r.query.includes('placeOrder'))).toEqual([]);
    const after = await ask(key(reader.secret), '{ orders { id } }');
    expect(after.body.data.orders).toHaveLength(2);
  });

  it('answers NOT_FOUND to X-Keygate-Environment of another tenant, keys and users alike, and the example hears nothing', async () => {
    const from = example.received.length;
    const elsewhere = { 'x-keygate-environment': other.environments[0].id };
    const asKey = await ask({ ...key(dev().fullAccessKey.secret), ...elsewhere }, '{ orders { id } }');
    expect(codes(asKey.body as never)).toEqual(['NOT_FOUND']);
    const asUser = await ask({ authorization: `Bearer ${shop.owner.token}`, ...elsewhere }, '{ orders { id } }');
    expect(codes(asUser.body as never)).toEqual(['NOT_FOUND']);
    expect(example.received.slice(from)).toEqual([]);
    // Its twin: the owner naming an environment of their own account reaches the example.
    const own = await ask(
      { authorization: `Bearer ${shop.owner.token}`, 'x-keygate-environment': prod().id },
      '{ caller { environment } }',
    );
    expect(own.body).toEqual({ data: { caller: { environment: prod().id } } });
  });
});

describe('the example’s check of the identity token (called directly, not through Keygate)', () => {
  async function keygateKid(): Promise<string> {
    const res = await rememberingFetch(`${keygateUrl}/.well-known/jwks.json`);
    const { keys } = (await res.json()) as { keys: { kid: string }[] };
    return keys[0]!.kid;
  }

  /** A token like Keygate's for a Development reader, signed with `signer`, issued `age` seconds ago. */
  async function token(signer: KeyObject, options: { age?: number; audience?: string } = {}) {
    const now = Math.floor(Date.now() / 1000) - (options.age ?? 0);
    return new SignJWT({
      kg_principal: 'api_key',
      kg_account: shop.account.id,
      kg_environment: dev().id,
      kg_key_type: 'SCOPED',
      kg_scopes: ['orders:read', 'orders:read_public'],
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: await keygateKid(), typ: 'JWT' })
      .setIssuer('keygate')
      .setAudience(options.audience ?? 'orders')
      .setSubject('key_direct')
      .setJti('req_direct')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(signer);
  }

  async function callExample(query: string, bearer?: string) {
    const res = await fetch(example.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return { status: res.status, body: (await res.json()) as Body };
  }

  it('accepts a token signed with the key Keygate publishes in its JWKS, for this upstream, and scopes the answer by its environment', async () => {
    const { status, body } = await callExample(
      '{ caller { environment subject } orders { id } }',
      await token(identity.privateKey),
    );
    expect(status).toBe(200);
    expect(body.data.caller).toEqual({ environment: dev().id, subject: 'key_direct' });
    expect(body.data.orders.map((o: { id: string }) => o.id)).toEqual(expect.arrayContaining(['ord_2', 'ord_1']));
  });

  it('refuses no token, a forged one, an expired one and one for another upstream with 401 UNAUTHENTICATED saying which', async () => {
    const forger = generateKeyPairSync('ed25519').privateKey;
    const cases: [string, string | undefined, RegExp][] = [
      ['none', undefined, /^Missing identity token/],
      ['signed by another key under Keygate’s kid', await token(forger), /signature does not verify/],
      ['expired', await token(identity.privateKey, { age: 180 }), /expired/],
      ['for another upstream', await token(identity.privateKey, { audience: 'catalog' }), /"aud" claim/],
      ['not a JWT', 'not-a-token', /not a token Keygate signed/],
    ];
    for (const [what, bearer, reason] of cases) {
      const from = example.received.length;
      const { status, body } = await callExample('{ orders { id } }', bearer);
      expect(status, what).toBe(401);
      expect(body.data, what).toBeUndefined();
      expect(codes(body as never), what).toEqual(['UNAUTHENTICATED']);
      expect(body.errors![0]!.message, what).toMatch(reason);
      expect(example.received.slice(from), what).toEqual([expect.objectContaining({ refused: body.errors![0]!.message })]);
    }
  });

  it('refuses with 503 while Keygate’s keys cannot be fetched, rather than trust a token it cannot check', async () => {
    const orphan = await startExample({ KEYGATE_URL: `http://127.0.0.1:${await freePort()}` });
    const res = await fetch(orphan.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(identity.privateKey)}` },
      body: JSON.stringify({ query: '{ orders { id } }' }),
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as Body;
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([
      { message: "Keygate's identity keys could not be fetched.", extensions: { code: 'SERVICE_UNAVAILABLE' } },
    ]);
    await orphan.stop();
  });

  it('answers only the SDL query `{ _service { sdl } }` (what Keygate reads at start) without a token, nothing alongside it', async () => {
    const sdl = await callExample('{ _service { sdl } }');
    expect(sdl.status).toBe(200);
    expect(sdl.body.data._service.sdl).toContain('@requiresScopes(scopes: [["shipments:read"]])');
    const more = await callExample('{ _service { sdl } orders { id } }');
    expect(more.status).toBe(401);
    expect(more.body.data).toBeUndefined();
  });
});

describe('keygate upstream check against the running example', () => {
  it('prints the scopes the example adds and exits 0', async () => {
    const { stdout } = await keygateCommand(env, 'upstream', 'check', '--file', configFile);
    expect(stdout).toContain('✓ orders: 5 root fields');
    for (const scope of ['orders:read ', 'orders:read_public ', 'orders:write ', 'shipments:read '])
      expect(stdout).toContain(scope);
    expect(stdout).toMatch(/shipments:read\s+READ\s+Carrier, tracking number and delivery address of the parcel\./);
    expect(stdout).toMatch(/orders:write\s+WRITE\s+Place an order/);
    expect(stdout.trim().split('\n').at(-1)).toBe('No problems.');
  });
});

describe('SIGHUP on keygate serve', () => {
  /** Resolves with the first log record of the serve process matching `msg` from now on. */
  function nextLog(msg: string): Promise<Record<string, any>> {
    return new Promise((resolve) => {
      let partial = '';
      const read = (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        for (const line of lines.filter((l) => l.startsWith('{'))) {
          const record = JSON.parse(line) as Record<string, any>;
          if (!String(record.msg).includes(msg)) continue;
          keygate.child.stdout!.off('data', read);
          return resolve(record);
        }
      };
      // A listener beside the leak scan's, removed once it has its line (the stream keeps flowing).
      keygate.child.stdout!.on('data', read);
    });
  }
  const permissionsOf = async (secret: string) =>
    (await ask(key(secret), '{ viewer { permissions } }')).body.data.viewer.permissions as string[];

  it('loads a new version of the example that protects prices: the full access key holds pricing:read at once, a scoped key does not', async () => {
    const reader = await scopedKey(dev(), ['orders:read']);
    expect(await permissionsOf(dev().fullAccessKey.secret)).not.toContain('pricing:read');

    // The new version, deployed beside the old one; the upstreams file moves to it.
    const protectedPrices = exampleSdl.replace(
      'unitPriceCents: Int!',
      '"Price of one unit, in cents." unitPriceCents: Int! @requiresScopes(scopes: [["pricing:read"]])',
    );
    expect(protectedPrices).not.toBe(exampleSdl);
    const sdlFile = path.join(path.dirname(configFile), 'orders-v2.graphql');
    writeFileSync(sdlFile, protectedPrices);
    const v2 = await startExample({ KEYGATE_URL: keygateUrl, ORDERS_SDL: sdlFile });
    upstreamsFileFor(configFile, v2.url, { reloadSeconds: 0 });

    const reloaded = nextLog('upstreams reloaded');
    keygate.child.kill('SIGHUP');
    expect(await reloaded).toMatchObject({ reason: 'SIGHUP', upstreams: ['orders'] });

    expect(await permissionsOf(dev().fullAccessKey.secret)).toContain('pricing:read');
    expect(await permissionsOf(reader.secret)).not.toContain('pricing:read');
    const listed = (await ask(key(reader.secret), '{ permissions { name access description } }')).body.data.permissions;
    expect(listed).toContainEqual({ name: 'pricing:read', access: 'READ', description: 'Price of one unit, in cents.' });

    const price = '{ order(id: "ord_1") { lineItems { sku unitPriceCents } } }';
    const full = await ask(key(dev().fullAccessKey.secret), price);
    expect(full.body).toEqual({
      data: {
        order: {
          lineItems: [
            { sku: 'MUG-01', unitPriceCents: 1200 },
            { sku: 'CAP-03', unitPriceCents: 1800 },
          ],
        },
      },
    });
    const narrow = await ask(key(reader.secret), price);
    expect(codes(narrow.body as never)).toContain('FORBIDDEN');
    expect(narrow.body.errors![0]!.message).toContain('pricing:read');
    // The answers came from the new version.
    expect(v2.received.some((r) => r.query.includes('unitPriceCents'))).toBe(true);
  });

  it('keeps serving the last good schema when the reload SIGHUP starts fails, and logs what is wrong', async () => {
    upstreamsFileFor(configFile, example.url, { reloadSeconds: 0, schema: { file: 'orders-v3.graphql' } });
    const failed = nextLog('upstream reload failed');
    keygate.child.kill('SIGHUP');
    const record = await failed;
    expect(record.reason).toBe('SIGHUP');
    expect(record.err.message).toContain('orders-v3.graphql does not exist');
    expect(await permissionsOf(dev().fullAccessKey.secret)).toContain('pricing:read');
    const { body } = await ask(key(dev().fullAccessKey.secret), '{ orders { id } }');
    expect(body.errors).toBeUndefined();
  });
});
