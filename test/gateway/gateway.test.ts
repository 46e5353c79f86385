import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, print } from 'graphql';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCustomerToken } from '../../src/client/customer-token.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { startYogaUpstream, type TestUpstream, upstreamsFile } from '../harness/upstreams.js';
import { ORDERS_SDL, type OrdersState, ordersResolvers } from './orders.fixture.js';

let t: TestKeygate;
let orders: TestUpstream;
let tenant: Tenant;
const state: OrdersState = { orders: [{ id: 'ord_1', item: 'Book', quantity: 1, cardLast4: '4242' }] };

beforeAll(async () => {
  orders = await startYogaUpstream('orders', ORDERS_SDL, ordersResolvers(state));
  t = await startTestKeygate({
    upstreamsFile: upstreamsFile([orders]),
    dataDir: mkdtempSync(path.join(tmpdir(), 'keygate-gateway-')),
  });
  tenant = await seedTenant(t);
});

/** What the orders service received since `from`. */
const sentSince = (from: number) => orders.received.slice(from).filter((r) => !r.query.includes('_service'));

describe('the merged schema', () => {
  it('serves Keygate’s fields and the upstream’s side by side, in one response', async () => {
    const { body } = await t.query('{ viewer { kind } orders { id item } }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ viewer: { kind: 'API_KEY' }, orders: [{ id: 'ord_1', item: 'Book' }] });
  });

  it('lists the upstream’s scopes in permissions, with resource, access and the description of the field that names them', async () => {
    const { body } = await t.query(
      '{ permissions { name resource access description } }',
      {},
      { key: tenant.dev.fullAccessKey.secret },
    );
    const byName = new Map(body.data!.permissions.map((p: { name: string }) => [p.name, p]));
    expect(byName.get('orders:read')).toEqual({
      name: 'orders:read',
      resource: 'orders',
      access: 'READ',
      description: "Orders placed in the caller's environment, newest first.",
    });
    expect(byName.get('refunds:write')).toMatchObject({ resource: 'refunds', access: 'WRITE' });
    expect(byName.get('payments:read')).toMatchObject({ access: 'READ', description: 'Last four digits of the card on file.' });
    expect(byName.get('orders:write')).toMatchObject({ access: 'WRITE' });
    // Built-in permissions come first, as before.
    expect(body.data!.permissions[0].name).toBe('customers:read');
  });

  it('prints every rule in GET /schema.graphql, the deny-by-default one included', async () => {
    const res = await t.fetch(
      undefined,
      { 'x-api-key': tenant.dev.fullAccessKey.secret },
      { method: 'GET', path: '/schema.graphql' },
    );
    expect(res.status).toBe(200);
    const sdl = await res.text();
    expect(sdl).toMatch(/orders\(first: Int = 10\): \[Order!\]! @requiresScopes\(scopes: \[\["orders:read"\]\]\)/);
    expect(sdl).toMatch(/whoami: Identity @requiresScopes\(scopes: \[\["orders:read"\]\]\)/);
    expect(sdl).toMatch(/cardLast4: String @requiresScopes\(scopes: \[\["payments:read"\]\]\)/);
    expect(sdl).toMatch(/viewer: Viewer! @authenticated/);
    expect(sdl).not.toMatch(/_service|_entities|_Service/);
  });

  it('keeps GET /schema.graphql from the publishable key (403) and from anonymous callers (401)', async () => {
    const asPublishable = await t.fetch(
      undefined,
      { 'x-api-key': tenant.dev.publishableKey.secret },
      { method: 'GET', path: '/schema.graphql' },
    );
    expect(asPublishable.status).toBe(403);
    expect(((await asPublishable.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'FORBIDDEN',
    );
    const anonymous = await t.fetch(undefined, {}, { method: 'GET', path: '/schema.graphql' });
    expect(anonymous.status).toBe(401);
  });

  it('shows the merged schema through introspection to server keys, never to the publishable key', async () => {
    const server = await t.query('{ __type(name: "Order") { fields { name } } }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(server.body.data?.__type.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'item', 'quantity', 'cardLast4']);
    const publishable = await t.query('{ __type(name: "Order") { name } }', {}, { key: tenant.dev.publishableKey.secret });
    expect(codes(publishable.body)).toContain('BAD_USER_INPUT');
  });
});

describe('one permission model for upstream scopes', () => {
  it('gives the full access key every upstream scope without any data change', async () => {
    const { body } = await t.query('{ viewer { permissions } }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(body.data!.viewer.permissions).toEqual(
      expect.arrayContaining(['orders:read', 'orders:write', 'payments:read', 'refunds:write']),
    );
  });

  it('creates and re-scopes scoped keys with upstream scopes; write implies read; unknown names are BAD_USER_INPUT', async () => {
    const created = await t.query(
      'mutation($s: [String!]!) { createScopedKey(input: { name: "Orders bot", scopes: $s }) { apiKey { id scopes } secret } }',
      { s: ['orders:write'] },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(created.body.errors).toBeUndefined();
    expect([...created.body.data!.createScopedKey.apiKey.scopes].sort()).toEqual([
      'orders:read',
      'orders:read_public',
      'orders:write',
    ]);
    const unknown = await t.query(
      'mutation($s: [String!]!) { createScopedKey(input: { name: "x", scopes: $s }) { secret } }',
      { s: ['orders:delete'] },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(codes(unknown.body)).toEqual(['BAD_USER_INPUT']);
    expect(unknown.body.errors![0]!.message).toContain('orders:delete');
    const id = created.body.data!.createScopedKey.apiKey.id;
    const rescoped = await t.query(
      'mutation($id: ID!) { updateApiKeyScopes(input: { id: $id, scopes: ["payments:read", "orders:read"] }) { apiKey { scopes } } }',
      { id },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect([...rescoped.body.data!.updateApiKeyScopes.apiKey.scopes].sort()).toEqual([
      'orders:read',
      'orders:read_public',
      'payments:read',
    ]);
  });

  it('keeps no-escalation for upstream scopes: a key cannot give what it does not hold', async () => {
    const manager = await tenant.scopedKey(['api_keys:write', 'orders:read']);
    const { body } = await t.query(
      'mutation { createScopedKey(input: { name: "escalate", scopes: ["refunds:write"] }) { secret } }',
      {},
      { key: manager.secret },
    );
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.message).toContain('refunds:write');
  });
});

describe('enforcement before fetch', () => {
  it('answers a denied nested field null with FORBIDDEN naming the permission, and never asks the upstream for it', async () => {
    const reader = await tenant.scopedKey(['orders:read']);
    const from = orders.received.length;
    const { body } = await t.query('{ orders { id cardLast4 } }', {}, { key: reader.secret });
    expect(body.data).toEqual({ orders: [{ id: 'ord_1', cardLast4: null }] });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]).toMatchObject({
      path: ['orders', 0, 'cardLast4'],
      message: expect.stringContaining('payments:read'),
    });
    const sent = sentSince(from);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.query).toContain('orders');
    expect(sent[0]!.query).not.toContain('cardLast4');
  });

  it('sends the field when the key holds its permission', async () => {
    const reader = await tenant.scopedKey(['orders:read', 'payments:read']);
    const from = orders.received.length;
    const { body } = await t.query('{ orders { id cardLast4 } }', {}, { key: reader.secret });
    expect(body.errors).toBeUndefined();
    expect(body.data!.orders[0].cardLast4).toBe('4242');
    expect(sentSince(from)[0]!.query).toContain('cardLast4');
  });

  it('never sends a mutation the key may not run, and the rest of the response is intact', async () => {
    const reader = await tenant.scopedKey(['orders:read']);
    const from = orders.received.length;
    const before = state.orders.length;
    const { body } = await t.query('mutation { placeOrder(item: "Pen", quantity: 2) { id } }', {}, { key: reader.secret });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.message).toContain('orders:write');
    expect(sentSince(from)).toEqual([]);
    expect(state.orders.length).toBe(before);
    const mixed = await t.query(
      '{ viewer { kind } trackingStatus(orderId: "ord_1") }',
      {},
      { key: (await tenant.scopedKey(['customers:read'])).secret },
    );
    expect(mixed.body.data).toEqual({ viewer: { kind: 'API_KEY' }, trackingStatus: null });
    expect(codes(mixed.body)).toEqual(['FORBIDDEN']);
  });

  it('denies a root field without @requiresScopes to a key without <upstream>:read (deny by default)', async () => {
    const other = await tenant.scopedKey(['payments:read']);
    const from = orders.received.length;
    const { body } = await t.query('{ whoami { subject } }', {}, { key: other.secret });
    expect(body.data).toEqual({ whoami: null });
    expect(body.errors![0]!.message).toContain('orders:read');
    expect(sentSince(from)).toEqual([]);
  });

  it('lets the publishable key reach :read_public fields only', async () => {
    const pub = { key: tenant.dev.publishableKey.secret };
    const tracking = await t.query('{ trackingStatus(orderId: "ord_1") }', {}, pub);
    expect(tracking.body).toEqual({ data: { trackingStatus: 'IN_TRANSIT' } });
    const list = await t.query('{ orders { id } }', {}, pub);
    expect(codes(list.body)).toEqual(['FORBIDDEN']);
  });

  it('runs a permitted mutation once, through the upstream', async () => {
    const writer = await tenant.scopedKey(['orders:write']);
    const { body } = await t.query(
      'mutation { placeOrder(item: "Pen", quantity: 2) { id item quantity } }',
      {},
      { key: writer.secret },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.placeOrder).toMatchObject({ item: 'Pen', quantity: 2 });
  });
});

describe('operations one upstream answers whole', () => {
  const document = /* GraphQL */ `
    query Tracked($id: ID!) {
      tracked: order(id: $id) { ...Line card: cardLast4 }
      trackingStatus(orderId: $id)
    }
    fragment Line on Order { id item }
  `;

  it('reach the upstream as the client wrote them (name, aliases, fragment, variables), in one request, when the key may read every field', async () => {
    const reader = await tenant.scopedKey(['orders:read', 'payments:read']);
    const from = orders.received.length;
    const { body } = await t.query(document, { id: 'ord_1' }, { key: reader.secret });
    expect(body).toEqual({ data: { tracked: { id: 'ord_1', item: 'Book', card: '4242' }, trackingStatus: 'IN_TRANSIT' } });
    const sent = sentSince(from);
    expect(sent).toHaveLength(1);
    expect(print(parse(sent[0]!.query))).toBe(print(parse(document)));
    expect(sent[0]!.variables).toEqual({ id: 'ord_1' });
  });

  it('go through enforcement when one field is not the key’s: that field never leaves, the rest answers', async () => {
    const reader = await tenant.scopedKey(['orders:read']);
    const from = orders.received.length;
    const { body } = await t.query(document, { id: 'ord_1' }, { key: reader.secret });
    expect(body.data).toEqual({ tracked: { id: 'ord_1', item: 'Book', card: null }, trackingStatus: 'IN_TRANSIT' });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]).toMatchObject({ path: ['tracked', 'card'], message: expect.stringContaining('payments:read') });
    const sent = sentSince(from);
    expect(sent.length).toBeGreaterThan(0);
    for (const request of sent) expect(request.query).not.toContain('cardLast4');
  });

  it('refuse bad variables as execution does, before anything is sent', async () => {
    const reader = await tenant.scopedKey(['orders:read', 'payments:read']);
    const from = orders.received.length;
    const { body } = await t.query(document, {}, { key: reader.secret });
    expect(body.data).toBeUndefined();
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors![0]!.message).toContain('$id');
    expect(sentSince(from)).toEqual([]);
  });
});

describe('the identity token', () => {
  async function jwks() {
    const res = await t.fetch(undefined, {}, { method: 'GET', path: '/.well-known/jwks.json' });
    expect(res.status).toBe(200);
    return createLocalJWKSet((await res.json()) as { keys: never[] });
  }

  it('is signed by a key of /.well-known/jwks.json and says who calls, for this upstream and this request only', async () => {
    const key = await tenant.scopedKey(['orders:read']);
    const from = orders.received.length;
    const res = await t.fetch({ query: '{ orders { id } }' }, { 'x-api-key': key.secret, 'x-request-id': 'req-identity-1' });
    expect(res.status).toBe(200);
    const [sent] = sentSince(from);
    const token = String(sent!.headers.authorization).replace(/^Bearer /, '');
    expect(['EdDSA', 'ES256']).toContain(decodeProtectedHeader(token).alg);
    expect(decodeProtectedHeader(token).kid).toBeTruthy();
    const { payload } = await jwtVerify(token, await jwks(), {
      issuer: 'keygate',
      audience: 'orders',
      currentDate: t.clock.now(),
    });
    expect(payload).toMatchObject({
      sub: key.row.id,
      jti: 'req-identity-1',
      kg_principal: 'api_key',
      kg_account: tenant.accountId,
      kg_environment: tenant.dev.id,
      kg_key_type: 'SCOPED',
    });
    expect(payload.kg_scopes).toEqual(expect.arrayContaining(['orders:read', 'orders:read_public']));
    expect(payload.kg_scopes).not.toContain('payments:read');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
  });

  it('is the only credential the upstream sees: never the caller’s key, session or customer token', async () => {
    const from = orders.received.length;
    await t.fetch(
      { query: '{ trackingStatus(orderId: "ord_1") }' },
      { 'x-api-key': tenant.dev.publishableKey.secret, 'x-customer-token': 'HMAC-SHA256 cus_1:00' },
    );
    await t.fetch(
      { query: '{ orders { id } }' },
      { authorization: `Bearer ${tenant.owner.token}`, 'x-keygate-environment': tenant.dev.id },
    );
    const sent = sentSince(from);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    const everything = JSON.stringify(sent.map((s) => s.headers));
    for (const secret of [tenant.dev.publishableKey.secret, tenant.owner.token, 'HMAC-SHA256'])
      expect(everything).not.toContain(secret);
    for (const s of sent) {
      expect(s.headers['x-api-key']).toBeUndefined();
      expect(s.headers['x-customer-token']).toBeUndefined();
    }
  });

  it('is refused by an upstream that verifies it when forged or expired', async () => {
    const key = await tenant.scopedKey(['orders:read']);
    const from = orders.received.length;
    await t.query('{ orders { id } }', {}, { key: key.secret });
    const token = String(sentSince(from)[0]!.headers.authorization).replace(/^Bearer /, '');
    const set = await jwks();
    const [h, p, s] = token.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), kg_scopes: ['refunds:write'] }),
    ).toString('base64url');
    await expect(jwtVerify(`${h}.${forgedPayload}.${s}`, set, { currentDate: t.clock.now() })).rejects.toThrow();
    await expect(jwtVerify(token, set, { currentDate: new Date(t.clock.now().getTime() + 61_000) })).rejects.toThrow(/exp/);
    await expect(jwtVerify(token, set, { audience: 'catalog', currentDate: t.clock.now() })).rejects.toThrow(/aud/);
  });
});

describe('client-side security (SPEC §5) on upstream fields', () => {
  it('lets the publishable key reach upstream fields under ENFORCED only with a valid customer token, passed on as kg_customer', async () => {
    const shop = await seedTenant(t);
    const owner = { token: shop.owner.token };
    const secret = (await t.query('query($id: ID!) { environment(id: $id) { signingSecret } }', { id: shop.dev.id }, owner)).body
      .data!.environment.signingSecret as string;
    await t.query(
      'mutation($id: ID!) { setClientSideSecurity(input: { environmentId: $id, enforced: true }) { environment { id } } }',
      { id: shop.dev.id },
      owner,
    );
    const pub = shop.dev.publishableKey.secret;
    const ask = (headers: Record<string, string>) =>
      t.fetch({ query: '{ trackingStatus(orderId: "ord_1") }' }, { 'x-api-key': pub, ...headers }).then((r) => r.json() as never);

    const from = orders.received.length;
    expect(codes(await ask({}))).toEqual(['INVALID_CUSTOMER_TOKEN']);
    expect(codes(await ask({ 'x-customer-token': `HMAC-SHA256 cus_7:${'0'.repeat(64)}` }))).toEqual(['INVALID_CUSTOMER_TOKEN']);
    expect(sentSince(from)).toEqual([]);

    const token = createCustomerToken('cus_7', secret, { expiresIn: '15m', now: t.clock.now() });
    expect(await ask({ 'x-customer-token': token })).toEqual({ data: { trackingStatus: 'IN_TRANSIT' } });
    const [sent] = sentSince(from);
    const claims = decodeJwt(String(sent!.headers.authorization).slice(7));
    expect(claims).toMatchObject({ kg_customer: 'cus_7', kg_key_type: 'PUBLISHABLE', kg_environment: shop.dev.id });
    expect(JSON.stringify(sent!.headers)).not.toContain(token);
  });
});

describe('users', () => {
  it('name the environment in X-Keygate-Environment; without it an upstream field is BAD_USER_INPUT', async () => {
    const owner = { token: tenant.owner.token };
    const missing = await t.query('{ orders { id } }', {}, owner);
    expect(codes(missing.body)).toEqual(['BAD_USER_INPUT']);
    expect(missing.body.errors![0]!.message).toContain('X-Keygate-Environment'.toLowerCase());
    const res = await t.fetch(
      { query: '{ orders { id } whoami { principal environment } }' },
      {
        authorization: `Bearer ${tenant.owner.token}`,
        'x-keygate-environment': tenant.dev.id,
      },
    );
    const body = (await res.json()) as { data: { whoami: unknown }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data.whoami).toEqual({ principal: 'user', environment: tenant.dev.id });
  });

  it('answer NOT_FOUND for an environment of another tenant, keys and users alike, and the upstream hears nothing', async () => {
    const other = await seedTenant(t);
    const from = orders.received.length;
    const asUser = await t.fetch(
      { query: '{ orders { id } }' },
      { authorization: `Bearer ${tenant.owner.token}`, 'x-keygate-environment': other.dev.id },
    );
    expect(codes((await asUser.json()) as never)).toEqual(['NOT_FOUND']);
    const asKey = await t.fetch(
      { query: '{ orders { id } }' },
      { 'x-api-key': tenant.dev.fullAccessKey.secret, 'x-keygate-environment': other.dev.id },
    );
    expect(codes((await asKey.json()) as never)).toEqual(['NOT_FOUND']);
    expect(sentSince(from)).toEqual([]);
  });

  it('hold upstream scopes by role: members write, read-only users only read', async () => {
    for (const [role, mutation] of [
      ['MEMBER', 'ok'],
      ['READ_ONLY', 'FORBIDDEN'],
    ] as const) {
      const user = await tenant.user(role);
      const headers = { authorization: `Bearer ${user.token}`, 'x-keygate-environment': tenant.dev.id };
      const read = (await (await t.fetch({ query: '{ orders { id } }' }, headers)).json()) as { errors?: unknown };
      expect(read.errors, role).toBeUndefined();
      const write = (await (
        await t.fetch({ query: 'mutation { placeOrder(item: "Mug", quantity: 1) { id } }' }, headers)
      ).json()) as never;
      expect(codes(write), role).toEqual(mutation === 'ok' ? [] : ['FORBIDDEN']);
    }
  });
});

describe('the activity log', () => {
  it('records upstream root fields like built-in ones, in the environment the call reached', async () => {
    const reader = await tenant.scopedKey(['orders:read']);
    const res = await t.fetch(
      { query: '{ orders { id } placeholder: trackingStatus(orderId: "x") }' },
      { 'x-api-key': reader.secret },
    );
    const requestId = res.headers.get('x-request-id')!;
    const user = await t.fetch(
      { query: '{ orders { id } }' },
      { authorization: `Bearer ${tenant.owner.token}`, 'x-keygate-environment': tenant.dev.id },
    );
    const userRequest = user.headers.get('x-request-id')!;
    await t.keygate.deps.activity.flush();
    const { body } = await t.query(
      '{ activity(first: 50) { edges { node { field action outcome errorCode requestId apiKey { id } } } } }',
      {},
      { key: tenant.dev.fullAccessKey.secret },
    );
    const events = body.data!.activity.edges.map((e: { node: { requestId: string } }) => e.node);
    const mine = events.filter((e: { requestId: string }) => e.requestId === requestId);
    expect(mine.map((e: { field: string; action: string; outcome: string }) => [e.field, e.action, e.outcome]).sort()).toEqual([
      ['orders', 'Orders', 'SUCCESS'],
      ['trackingStatus', 'Tracking status', 'SUCCESS'],
    ]);
    expect(events.filter((e: { requestId: string }) => e.requestId === userRequest)).toHaveLength(1);
  });
});
