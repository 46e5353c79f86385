import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DocumentNode, type ExecutionResult, print } from 'graphql';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createKeygate, type Keygate } from '../../src/app.js';
import {
  ActivityDocument,
  type ActivityFilter,
  type ActivityQuery,
  ApiKeyDetailDocument,
  ApiKeysDocument,
  ClientCustomerDocument,
  ConnectIntegrationDocument,
  CreateCustomerDocument,
  DisconnectIntegrationDocument,
  RotateApiKeyDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { bootstrapAccount } from '../../src/modules/account/account.service.js';
import { activityLabel } from '../../src/modules/activity/activity.labels.js';
import { storedActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { CATALOGUE_NAMES } from '../../src/modules/permission/permission.catalogue.js';
import { schema } from '../../src/schema.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { capturedLogs, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate();
});

type Event = ActivityQuery['activity']['edges'][number]['node'];
type Headers = Record<string, string>;

const asKey = (secret: string): Headers => ({ 'x-api-key': secret });
const asUser = (token: string): Headers => ({ authorization: `Bearer ${token}` });

/** Every key secret and session token this file used; the last test scans the activity log for them. */
const secretsUsed = new Set<string>();
async function tenantOf(): Promise<Tenant> {
  const tenant = await seedTenant(t);
  for (const env of [tenant.dev, tenant.prod]) {
    secretsUsed.add(env.fullAccessKey.secret);
    secretsUsed.add(env.publishableKey.secret);
  }
  secretsUsed.add(tenant.owner.token);
  return tenant;
}
async function scopedKeyOf(tenant: Tenant, scopes: string[], name?: string) {
  const key = await tenant.scopedKey(scopes, name ? { name } : {});
  secretsUsed.add(key.secret);
  return key;
}

/** One HTTP call; returns the body and the request id from the X-Request-Id response header. */
async function call(document: string | DocumentNode, variables: Record<string, unknown>, headers: Headers) {
  const res = await t.fetch({ query: typeof document === 'string' ? document : print(document), variables }, headers);
  const body = (await res.json()) as ExecutionResult<any>;
  const requestId = res.headers.get('x-request-id');
  expect(requestId).toBeTruthy();
  return { status: res.status, body, requestId: requestId! };
}

/** An environment's activity log (read by the account owner), newest first. */
async function logOf(tenant: Tenant, environmentId = tenant.dev.id, filter: ActivityFilter = {}): Promise<Event[]> {
  const { body } = await t.run(ActivityDocument, { environmentId, filter, first: 100 }, { token: tenant.owner.token });
  expect(body.errors).toBeUndefined();
  return body.data!.activity.edges.map((e) => e.node);
}
const ofRequest = (events: Event[], requestId: string) => events.filter((e) => e.requestId === requestId);
const byField = (events: Event[]) => [...events].sort((a, b) => a.field.localeCompare(b.field));

const UNKNOWN_KEY_ID = `key_${'0'.repeat(26)}`;

describe('one event per root field', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await tenantOf();
  });

  it('records each root field of a query as its own event; an alias does not change the field', async () => {
    const { body, requestId } = await call(
      'query Two { viewer { kind } perms: permissions { name } }',
      {},
      asKey(tenant.dev.fullAccessKey.secret),
    );
    expect(body.errors).toBeUndefined();
    const key = tenant.dev.fullAccessKey.row;
    const common = {
      operationType: 'query',
      outcome: 'SUCCESS',
      errorCode: null,
      requestId,
      actor: { type: 'API_KEY', id: key.id, displayName: 'Full access key' },
      apiKey: { id: key.id, name: 'Full access key', type: 'FULL_ACCESS' },
      timestamp: t.clock.now().toISOString(),
    };
    expect(byField(ofRequest(await logOf(tenant), requestId))).toEqual([
      { ...common, id: expect.stringMatching(/^act_/), action: 'List permissions', field: 'permissions' },
      { ...common, id: expect.stringMatching(/^act_/), action: 'View caller', field: 'viewer' },
    ]);
  });

  it('follows fragments to the root fields and leaves __typename out', async () => {
    const { body, requestId } = await call(
      'query { __typename ...Root ... on Query { environments { id } } } fragment Root on Query { viewer { kind } }',
      {},
      asKey(tenant.dev.fullAccessKey.secret),
    );
    expect(body.errors).toBeUndefined();
    expect(byField(ofRequest(await logOf(tenant), requestId)).map((e) => [e.field, e.action])).toEqual([
      ['environments', 'List environments'],
      ['viewer', 'View caller'],
    ]);
  });

  it('labels a mutation with its human label ("Create customer") and operationType mutation', async () => {
    const { body, requestId } = await call(
      CreateCustomerDocument,
      { input: { customerId: 'cus-label', name: 'Ada' } },
      asKey(tenant.dev.fullAccessKey.secret),
    );
    expect(body.errors).toBeUndefined();
    expect(ofRequest(await logOf(tenant), requestId)).toEqual([
      expect.objectContaining({
        action: 'Create customer',
        field: 'createCustomer',
        operationType: 'mutation',
        outcome: 'SUCCESS',
      }),
    ]);
  });

  it('uses the caller’s own X-Request-Id for the events and echoes it in the response', async () => {
    const { requestId } = await call(
      '{ viewer { kind } }',
      {},
      {
        ...asKey(tenant.dev.fullAccessKey.secret),
        'x-request-id': 'trace-activity-0001',
      },
    );
    expect(requestId).toBe('trace-activity-0001');
    expect(ofRequest(await logOf(tenant), 'trace-activity-0001').map((e) => e.field)).toEqual(['viewer']);
  });
});

describe('outcomes', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await tenantOf();
  });

  it('records a permission denial as DENIED with FORBIDDEN, naming the key used', async () => {
    const reader = await scopedKeyOf(tenant, ['customers:read', 'api_keys:read'], 'Reporting');
    const { body, requestId } = await call(CreateCustomerDocument, { input: { customerId: 'cus-denied' } }, asKey(reader.secret));
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(ofRequest(await logOf(tenant), requestId)).toEqual([
      expect.objectContaining({
        field: 'createCustomer',
        outcome: 'DENIED',
        errorCode: 'FORBIDDEN',
        actor: { type: 'API_KEY', id: reader.row.id, displayName: 'Reporting' },
        apiKey: { id: reader.row.id, name: 'Reporting', type: 'SCOPED' },
      }),
    ]);
  });

  it('gives each root field of one operation its own outcome: SUCCESS and ERROR NOT_FOUND side by side', async () => {
    const reader = await scopedKeyOf(tenant, ['api_keys:read']);
    const { body, requestId } = await call(
      'query($id: ID!) { viewer { kind } apiKey(id: $id) { id } }',
      { id: UNKNOWN_KEY_ID },
      asKey(reader.secret),
    );
    expect(body.data).toEqual({ viewer: { kind: 'API_KEY' }, apiKey: null });
    expect(codes(body)).toEqual(['NOT_FOUND']);
    expect(byField(ofRequest(await logOf(tenant), requestId)).map((e) => [e.field, e.action, e.outcome, e.errorCode])).toEqual([
      ['apiKey', 'View API key', 'ERROR', 'NOT_FOUND'],
      ['viewer', 'View caller', 'SUCCESS', null],
    ]);
  });

  it('records a rejected argument as ERROR with BAD_USER_INPUT', async () => {
    const { body, requestId } = await call(ApiKeysDocument, { first: 500 }, asKey(tenant.dev.fullAccessKey.secret));
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(ofRequest(await logOf(tenant), requestId).map((e) => [e.field, e.outcome, e.errorCode])).toEqual([
      ['apiKeys', 'ERROR', 'BAD_USER_INPUT'],
    ]);
  });

  it('records a duplicate as ERROR with CONFLICT', async () => {
    const headers = asKey(tenant.dev.fullAccessKey.secret);
    const first = await call(CreateCustomerDocument, { input: { customerId: 'cus-twice' } }, headers);
    const second = await call(CreateCustomerDocument, { input: { customerId: 'cus-twice' } }, headers);
    expect(codes(second.body)).toEqual(['CONFLICT']);
    const log = await logOf(tenant);
    expect(ofRequest(log, first.requestId).map((e) => [e.outcome, e.errorCode])).toEqual([['SUCCESS', null]]);
    expect(ofRequest(log, second.requestId).map((e) => [e.outcome, e.errorCode])).toEqual([['ERROR', 'CONFLICT']]);
  });

  it('records a bad customer token as DENIED with INVALID_CUSTOMER_TOKEN, naming the publishable key', async () => {
    await call(CreateCustomerDocument, { input: { customerId: 'cus-browser' } }, asKey(tenant.dev.fullAccessKey.secret));
    const { body, requestId } = await call(
      ClientCustomerDocument,
      { customerId: 'cus-browser' },
      { ...asKey(tenant.dev.publishableKey.secret), 'x-customer-token': `HMAC-SHA256 cus-browser:${'0'.repeat(64)}` },
    );
    expect(codes(body)).toEqual(['INVALID_CUSTOMER_TOKEN']);
    expect(ofRequest(await logOf(tenant), requestId)).toEqual([
      expect.objectContaining({
        field: 'customer',
        action: 'View customer',
        outcome: 'DENIED',
        errorCode: 'INVALID_CUSTOMER_TOKEN',
        apiKey: { id: tenant.dev.publishableKey.row.id, name: 'Publishable key', type: 'PUBLISHABLE' },
      }),
    ]);
  });

  it('records an operation rejected for invalid variables as ERROR BAD_USER_INPUT per root field, never SUCCESS', async () => {
    const { status, body, requestId } = await call(
      'query($first: Int) { viewer { kind } apiKeys(first: $first) { totalCount } }',
      { first: 'many' },
      asKey(tenant.dev.fullAccessKey.secret),
    );
    expect(status).toBe(400);
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.data ?? null).toBeNull();
    // Nothing ran, so nothing succeeded: both root fields failed with the request's error.
    expect(byField(ofRequest(await logOf(tenant), requestId)).map((e) => [e.field, e.outcome, e.errorCode])).toEqual([
      ['apiKeys', 'ERROR', 'BAD_USER_INPUT'],
      ['viewer', 'ERROR', 'BAD_USER_INPUT'],
    ]);
  });
});

describe('operations that fail as a whole', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await tenantOf();
  });

  it('records an operation refused by validation (an unknown field, a limit) as one ERROR BAD_USER_INPUT event, under its first known root field', async () => {
    const headers = asKey(tenant.dev.fullAccessKey.secret);
    const unknown = await call('{ viewer { kind nope } permissions { name } }', {}, headers);
    expect(codes(unknown.body)).toEqual(['BAD_USER_INPUT']);
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: viewer { kind }`).join(' ');
    const overLimit = await call(`{ ${aliases} }`, {}, headers);
    expect(overLimit.body.errors![0]!.message).toMatch(/alias/i);
    const log = await logOf(tenant);
    expect(ofRequest(log, unknown.requestId).map((e) => [e.field, e.action, e.outcome, e.errorCode])).toEqual([
      ['viewer', 'View caller', 'ERROR', 'BAD_USER_INPUT'],
    ]);
    expect(ofRequest(log, overLimit.requestId).map((e) => `${e.field} ${e.outcome} ${e.errorCode} ${e.apiKey?.id}`)).toEqual([
      `viewer ERROR BAD_USER_INPUT ${tenant.dev.fullAccessKey.row.id}`,
    ]);
  });

  it('records a document of invented root fields as one event under "(unknown)", not one per name', async () => {
    const invented = Array.from({ length: 200 }, (_, i) => `zz_${i}`).join(' ');
    const { body, requestId } = await call(`{ ${invented} }`, {}, asKey(tenant.dev.publishableKey.secret));
    expect(codes(body)[0]).toBe('BAD_USER_INPUT');
    expect(ofRequest(await logOf(tenant), requestId).map((e) => [e.field, e.action, e.outcome, e.errorCode])).toEqual([
      ['(unknown)', 'Invalid operation', 'ERROR', 'BAD_USER_INPUT'],
    ]);
  });

  it.each([
    ['two fragments spreading each other', 'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }'],
    ['a fragment spreading itself', 'query { ...A } fragment A on Query { viewer { kind } ...A }'],
  ])('refuses a root fragment cycle (%s) as BAD_USER_INPUT and records it, with no error logged', async (_name, document) => {
    const logged = capturedLogs.length;
    const { body, requestId } = await call(document, {}, asKey(tenant.dev.fullAccessKey.secret));
    expect(new Set(codes(body))).toEqual(new Set(['BAD_USER_INPUT']));
    expect(body.errors!.map((e) => e.message).join(' ')).toMatch(/cannot spread fragment/i);
    expect(ofRequest(await logOf(tenant), requestId).map((e) => [e.outcome, e.errorCode])).toEqual([['ERROR', 'BAD_USER_INPUT']]);
    const errorLines = capturedLogs.slice(logged).filter((line) => JSON.parse(line).level >= 50);
    expect(errorLines).toEqual([]);
  });

  it('records a root field whose result was thrown away (another non-null root field failed) as ERROR, not SUCCESS', async () => {
    const { body, requestId } = await call(
      '{ viewer { kind } apiKeys(first: 500) { totalCount } }',
      {},
      asKey(tenant.dev.fullAccessKey.secret),
    );
    expect(body.data ?? null).toBeNull();
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(byField(ofRequest(await logOf(tenant), requestId)).map((e) => [e.field, e.outcome, e.errorCode])).toEqual([
      ['apiKeys', 'ERROR', 'BAD_USER_INPUT'],
      ['viewer', 'ERROR', 'BAD_USER_INPUT'],
    ]);
  });
});

describe('where events land', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await tenantOf();
  });

  it('puts a key’s calls in its own environment, whatever environment it names', async () => {
    const { body, requestId } = await call(
      ApiKeysDocument,
      { environmentId: tenant.prod.id },
      asKey(tenant.dev.fullAccessKey.secret),
    );
    expect(codes(body)).toEqual(['NOT_FOUND']);
    expect(ofRequest(await logOf(tenant, tenant.dev.id), requestId).map((e) => [e.field, e.outcome, e.errorCode])).toEqual([
      ['apiKeys', 'ERROR', 'NOT_FOUND'],
    ]);
    expect(ofRequest(await logOf(tenant, tenant.prod.id), requestId)).toEqual([]);
  });

  it('keeps writing after a user names an id with a NUL in it: the id is never looked up', async () => {
    const bad = await call(
      'query($env: ID) { customers(environmentId: $env) { totalCount } }',
      { env: 'env_\u0000' },
      asUser(tenant.owner.token),
    );
    expect(codes(bad.body)).toEqual(['NOT_FOUND']);
    const good = await call(ApiKeysDocument, { environmentId: tenant.dev.id }, asUser(tenant.owner.token));
    await t.keygate.deps.activity.flush();
    expect(ofRequest(await logOf(tenant, tenant.dev.id), good.requestId).map((e) => e.field)).toEqual(['apiKeys']);
  });

  it('puts a user’s calls in the environment they name, by environmentId or by an object id', async () => {
    const member = await tenant.user('MEMBER');
    secretsUsed.add(member.token);
    const listProd = await call(ApiKeysDocument, { environmentId: tenant.prod.id }, asUser(tenant.owner.token));
    const readDevKey = await call(ApiKeyDetailDocument, { id: tenant.dev.publishableKey.row.id }, asUser(tenant.owner.token));
    const createInProd = await call(
      CreateCustomerDocument,
      { input: { environmentId: tenant.prod.id, customerId: 'cus-member' } },
      asUser(member.token),
    );
    const connectInDev = await call(
      ConnectIntegrationDocument,
      { input: { environmentId: tenant.dev.id, type: 'ZAPIER' } },
      asUser(tenant.owner.token),
    );
    secretsUsed.add(connectInDev.body.data.connectIntegration.secret);
    const disconnectById = await call(
      DisconnectIntegrationDocument,
      { input: { id: connectInDev.body.data.connectIntegration.integration.id } },
      asUser(tenant.owner.token),
    );
    for (const r of [listProd, readDevKey, createInProd, connectInDev, disconnectById]) expect(r.body.errors).toBeUndefined();

    const dev = await logOf(tenant, tenant.dev.id);
    const prod = await logOf(tenant, tenant.prod.id);
    expect(ofRequest(prod, listProd.requestId)).toEqual([
      expect.objectContaining({
        field: 'apiKeys',
        outcome: 'SUCCESS',
        actor: { type: 'USER', id: tenant.owner.id, displayName: tenant.owner.email },
        apiKey: null,
      }),
    ]);
    expect(ofRequest(dev, readDevKey.requestId)).toEqual([
      expect.objectContaining({
        field: 'apiKey',
        action: 'View API key',
        actor: expect.objectContaining({ id: tenant.owner.id }),
      }),
    ]);
    expect(ofRequest(prod, createInProd.requestId)).toEqual([
      expect.objectContaining({
        field: 'createCustomer',
        outcome: 'SUCCESS',
        actor: { type: 'USER', id: member.id, displayName: member.email },
      }),
    ]);
    expect(ofRequest(dev, connectInDev.requestId).map((e) => [e.field, e.action])).toEqual([
      ['connectIntegration', 'Connect integration'],
    ]);
    // Known only by the integration's id.
    expect(ofRequest(dev, disconnectById.requestId).map((e) => [e.field, e.action])).toEqual([
      ['disconnectIntegration', 'Disconnect integration'],
    ]);
    // Each in exactly one place.
    expect(ofRequest(dev, listProd.requestId)).toEqual([]);
    expect(ofRequest(prod, readDevKey.requestId)).toEqual([]);
    expect(ofRequest(dev, createInProd.requestId)).toEqual([]);
    expect(ofRequest(prod, disconnectById.requestId)).toEqual([]);
  });

  it('never puts a user’s call into another tenant’s log, even when it names that tenant’s objects', async () => {
    const other = await tenantOf();
    const owner = asUser(tenant.owner.token);
    const attempts = [
      await call(ApiKeyDetailDocument, { id: other.dev.fullAccessKey.row.id }, owner),
      await call(ApiKeysDocument, { environmentId: other.dev.id }, owner),
      await call(CreateCustomerDocument, { input: { environmentId: other.dev.id, customerId: 'cus-intruder' } }, owner),
    ];
    for (const a of attempts) expect(codes(a.body)).toEqual(['NOT_FOUND']);
    for (const env of [other.dev.id, other.prod.id]) {
      const log = await logOf(other, env);
      for (const a of attempts) expect(ofRequest(log, a.requestId)).toEqual([]);
      expect(log.filter((e) => e.actor.id === tenant.owner.id)).toEqual([]);
    }
  });
});

describe('filters and pagination', () => {
  it('filters by apiKeyId, actorType, outcome and since', async () => {
    const tenant = await tenantOf();
    const caller = await scopedKeyOf(tenant, ['customers:read'], 'Caller');
    const reader = await scopedKeyOf(tenant, ['activity:read'], 'Activity reader');
    const t0 = t.clock.now().toISOString();
    const r1 = await call(ViewerDocument, {}, asKey(tenant.dev.fullAccessKey.secret));
    const r2 = await call(CreateCustomerDocument, { input: { customerId: 'cus-f' } }, asKey(caller.secret));
    expect(codes(r2.body)).toEqual(['FORBIDDEN']);
    t.clock.advance(60_000);
    const t1 = t.clock.now().toISOString();
    const r3 = await call(ViewerDocument, {}, asKey(caller.secret));
    const r4 = await call(ApiKeysDocument, { environmentId: tenant.dev.id }, asUser(tenant.owner.token));

    // Read with a key (its own reads are API_KEY events of field "activity", left out below).
    const read = async (filter: ActivityFilter) => {
      const { body } = await t.run(ActivityDocument, { filter, first: 100 }, { key: reader.secret });
      expect(body.errors).toBeUndefined();
      const events = body.data!.activity.edges.map((e) => e.node).filter((e) => e.field !== 'activity');
      return { events, requestIds: events.map((e) => e.requestId), totalCount: body.data!.activity.totalCount };
    };

    const all = await read({});
    expect(all.requestIds).toEqual([r4.requestId, r3.requestId, r2.requestId, r1.requestId]);

    const byKey = await read({ apiKeyId: caller.row.id });
    expect(byKey.requestIds).toEqual([r3.requestId, r2.requestId]);
    expect(byKey.totalCount).toBe(2);
    expect(byKey.events.every((e) => e.apiKey?.id === caller.row.id)).toBe(true);

    const users = await read({ actorType: 'USER' });
    expect(users.requestIds).toEqual([r4.requestId]);
    expect(users.totalCount).toBe(1);
    expect(users.events[0]!.actor).toEqual({ type: 'USER', id: tenant.owner.id, displayName: tenant.owner.email });

    const denied = await read({ outcome: 'DENIED' });
    expect(denied.requestIds).toEqual([r2.requestId]);
    expect(denied.totalCount).toBe(1);

    const recent = await read({ since: t1 });
    expect(recent.requestIds).toEqual([r4.requestId, r3.requestId]);
    expect(recent.events.every((e) => e.timestamp >= t1)).toBe(true);
    expect(all.events.find((e) => e.requestId === r1.requestId)!.timestamp).toBe(t0);

    const combined = await read({ since: t1, apiKeyId: caller.row.id });
    expect(combined.requestIds).toEqual([r3.requestId]);
    expect(combined.totalCount).toBe(1);
  });

  it('pages newest first with first/after, with a totalCount of the whole filtered log', async () => {
    const tenant = await tenantOf();
    const caller = await scopedKeyOf(tenant, ['customers:read']);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      sent.push((await call(ViewerDocument, {}, asKey(caller.secret))).requestId);
      t.clock.advance(1000);
    }
    const seen: Event[] = [];
    const pages: { size: number; hasNextPage: boolean; totalCount: number }[] = [];
    const page = async (after: string | null) => {
      const { body } = await t.run(
        ActivityDocument,
        { environmentId: tenant.dev.id, filter: { apiKeyId: caller.row.id }, first: 2, after },
        { token: tenant.owner.token },
      );
      expect(body.errors).toBeUndefined();
      return body.data!.activity;
    };
    let after: string | null = null;
    do {
      const { edges, pageInfo, totalCount } = await page(after);
      seen.push(...edges.map((e) => e.node));
      pages.push({ size: edges.length, hasNextPage: pageInfo.hasNextPage, totalCount });
      after = pageInfo.hasNextPage ? pageInfo.endCursor : null;
    } while (after && pages.length < 10);

    expect(pages).toEqual([
      { size: 2, hasNextPage: true, totalCount: 5 },
      { size: 2, hasNextPage: true, totalCount: 5 },
      { size: 1, hasNextPage: false, totalCount: 5 },
    ]);
    expect(seen.map((e) => e.requestId)).toEqual([...sent].reverse());
    const times = seen.map((e) => Date.parse(e.timestamp));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(new Set(times).size).toBe(5);
  });

  it('rejects a page size over 100 and a forged cursor with BAD_USER_INPUT', async () => {
    const tenant = await tenantOf();
    const big = await t.run(ActivityDocument, { environmentId: tenant.dev.id, first: 101 }, { token: tenant.owner.token });
    expect(codes(big.body)).toEqual(['BAD_USER_INPUT']);
    expect(big.body.errors![0]!.message).toMatch(/^first: .*100/);
    const forged = await t.run(
      ActivityDocument,
      { environmentId: tenant.dev.id, after: 'not-a-cursor' },
      { token: tenant.owner.token },
    );
    expect(codes(forged.body)).toEqual(['BAD_USER_INPUT']);
  });

  it('rejects a malformed since with BAD_USER_INPUT naming the value and where it is, written inline or as a variable', async () => {
    const tenant = await tenantOf();
    const key = asKey(tenant.dev.fullAccessKey.secret);
    const inline = await call('{ activity(filter: { since: "nope" }) { totalCount } }', {}, key);
    expect(codes(inline.body)).toEqual(['BAD_USER_INPUT']);
    expect(inline.body.errors![0]!.message).toMatch(/DateTime.*"nope".*ISO-8601/);
    expect(inline.body.errors![0]!.locations).toEqual([{ line: 1, column: 29 }]);
    const variable = await call('query($s: DateTime) { activity(filter: { since: $s }) { totalCount } }', { s: 'nope' }, key);
    expect(codes(variable.body)).toEqual(['BAD_USER_INPUT']);
    expect(variable.body.errors![0]!.message).toMatch(/\$s.*"nope".*ISO-8601/);
  });
});

describe('who may read the activity log', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await tenantOf();
  });

  it('shows other keys only by id, name, type and category to a caller without api_keys:read (SPEC §4)', async () => {
    const reader = await scopedKeyOf(tenant, ['activity:read']);
    await call('{ viewer { kind } }', {}, asKey(tenant.dev.fullAccessKey.secret));
    await t.keygate.deps.activity.flush();
    const byFullAccess = `filter: { apiKeyId: "${tenant.dev.fullAccessKey.row.id}" }, first: 1`;
    const named = await call(
      `{ activity(${byFullAccess}) { edges { node { apiKey { id name type category } } } } }`,
      {},
      asKey(reader.secret),
    );
    expect(named.body.errors).toBeUndefined();
    expect(named.body.data.activity.edges[0].node.apiKey).toEqual({
      id: tenant.dev.fullAccessKey.row.id,
      name: 'Full access key',
      type: 'FULL_ACCESS',
      category: 'DEFAULT',
    });
    const detail = await call(
      `{ activity(${byFullAccess}) { edges { node { apiKey { id scopes status lastUsedAt rotatedTo { id } } } } } }`,
      {},
      asKey(reader.secret),
    );
    expect(detail.body.data.activity.edges[0].node.apiKey).toBeNull();
    expect(new Set(codes(detail.body))).toEqual(new Set(['FORBIDDEN']));
    // The first denied non-null field nulls the key; every error is on one of the denied fields.
    for (const e of detail.body.errors!) expect(['lastUsedAt', 'rotatedTo', 'scopes', 'status']).toContain(e.path!.at(-1));
    for (const e of detail.body.errors!) expect(e.message).toContain('api_keys:read');
  });

  it('shows a caller its own key in full through viewer.apiKey, without api_keys:read', async () => {
    const reader = await scopedKeyOf(tenant, ['activity:read']);
    const { body } = await call(
      '{ viewer { apiKey { id scopes status maskedKey lastUsedAt createdBy { type } } } }',
      {},
      asKey(reader.secret),
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.viewer.apiKey).toMatchObject({ id: reader.row.id, scopes: ['activity:read'], status: 'ACTIVE' });
  });

  it('needs activity:read: a key holding everything else is FORBIDDEN; a key with it reads its own environment', async () => {
    const allButActivity = await scopedKeyOf(
      tenant,
      CATALOGUE_NAMES.filter((p) => p !== 'activity:read'),
      'Everything but activity',
    );
    const denied = await call(ActivityDocument, {}, asKey(allButActivity.secret));
    expect(codes(denied.body)).toEqual(['FORBIDDEN']);
    expect(denied.body.errors![0]!.message).toContain('activity:read');
    expect(denied.body.data ?? null).toBeNull();

    const reader = await scopedKeyOf(tenant, ['activity:read']);
    const { body } = await t.run(ActivityDocument, {}, { key: reader.secret });
    expect(body.errors).toBeUndefined();
    // Its own environment's log, which holds the denied attempt above.
    expect(
      ofRequest(
        body.data!.activity.edges.map((e) => e.node),
        denied.requestId,
      ),
    ).toEqual([
      expect.objectContaining({
        field: 'activity',
        action: 'View activity',
        outcome: 'DENIED',
        errorCode: 'FORBIDDEN',
        apiKey: { id: allButActivity.row.id, name: 'Everything but activity', type: 'SCOPED' },
      }),
    ]);
  });

  it('is readable by owners, members and read-only users; not by the publishable key', async () => {
    const marker = await call(ViewerDocument, {}, asKey(tenant.dev.fullAccessKey.secret));
    for (const role of ['OWNER', 'MEMBER', 'READ_ONLY'] as const) {
      const user = role === 'OWNER' ? tenant.owner : await tenant.user(role);
      secretsUsed.add(user.token);
      const { body } = await t.run(ActivityDocument, { environmentId: tenant.dev.id, first: 100 }, { token: user.token });
      expect(body.errors, role).toBeUndefined();
      expect(
        body.data!.activity.edges.some((e) => e.node.requestId === marker.requestId),
        role,
      ).toBe(true);
    }
    const publishable = await t.run(ActivityDocument, {}, { key: tenant.dev.publishableKey.secret });
    expect(codes(publishable.body)).toEqual(['FORBIDDEN']);
  });

  it('answers NOT_FOUND for another account’s environment, to users and keys', async () => {
    const other = await tenantOf();
    for (const credential of [{ token: tenant.owner.token }, { key: tenant.dev.fullAccessKey.secret }]) {
      const { body } = await t.run(ActivityDocument, { environmentId: other.dev.id }, credential);
      expect(codes(body)).toEqual(['NOT_FOUND']);
    }
  });
});

describe('labels', () => {
  it('every root Query and Mutation field of Keygate declares its own label, each a distinct short sentence', () => {
    const rootFields = [schema.getQueryType()!, schema.getMutationType()!].flatMap((type) => Object.values(type.getFields()));
    expect(rootFields.length).toBeGreaterThan(20);
    const undeclared = rootFields.filter((f) => typeof f.extensions.activityLabel !== 'string').map((f) => f.name);
    expect(undeclared).toEqual([]);
    const labels = rootFields.map((f) => activityLabel(f.name, f));
    for (const label of labels) expect(label).toMatch(/^[A-Z][a-z]*( [A-Za-z-]+)*$/);
    expect(new Set(labels).size).toBe(labels.length);
  });

  it('derives a readable label for a root field that declares none (an upstream service’s field)', () => {
    expect(activityLabel('listOrders')).toBe('List orders');
    expect(activityLabel('(unknown)')).toBe('Invalid operation');
  });
});

describe('graceful shutdown', () => {
  it('writes every waiting event on close(); a new Keygate on the same database finds them all', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keygate-activity-'));
    const config = {
      databaseUrl: await freshDatabaseUrl({ fileDir: dir }),
      databasePoolSize: 1,
      masterKey: randomBytes(32),
      sessionSecret: randomBytes(32),
      logLevel: 'silent',
    };
    const post = async (keygate: Keygate, query: string, variables: Record<string, unknown>, headers: Headers) => {
      const res = await keygate.yoga.fetch('http://keygate.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { requestId: res.headers.get('x-request-id')!, body: (await res.json()) as ExecutionResult<any> };
    };
    let second: Keygate | null = null;
    try {
      const first = await createKeygate({ config });
      const tenant = await bootstrapAccount(first.deps, { name: 'Shutdown', plan: 'SCALE', ownerEmail: 'shutdown@keygate.test' });
      const env = tenant.environments[0]!;
      const full = env.fullAccess;
      const token = await first.deps.sessions.mint(tenant.owner.id, 3600);
      // Hold the recorder's flush timer: whatever is written must be written by close().
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const keyRequests: string[] = [];
      const userRequests: string[] = [];
      try {
        for (let i = 0; i < 25; i++) {
          const r = await post(first, '{ viewer { kind } permissions { name } }', {}, asKey(full.secret));
          expect(r.body.errors).toBeUndefined();
          keyRequests.push(r.requestId);
        }
        for (let i = 0; i < 5; i++) {
          const r = await post(first, print(CreateCustomerDocument), { input: { customerId: `cus-${i}` } }, asKey(full.secret));
          expect(r.body.errors).toBeUndefined();
          keyRequests.push(r.requestId);
        }
        // User calls are placed (environment looked up by object id) only when the batch is written.
        userRequests.push((await post(first, print(ApiKeyDetailDocument), { id: full.row.id }, asUser(token))).requestId);
        userRequests.push((await post(first, print(ApiKeysDocument), { environmentId: env.env.id }, asUser(token))).requestId);

        expect(first.deps.activity.depth).toBe(25 * 2 + 5 + 2);
        const written = await first.deps.db.selectFrom('activity_events').select('id').execute();
        expect(written).toEqual([]);
        await first.close();
      } finally {
        vi.useRealTimers();
      }

      second = await createKeygate({ config });
      const { body } = await post(
        second,
        print(ActivityDocument),
        { filter: { apiKeyId: full.row.id }, first: 100 },
        asKey(full.secret),
      );
      expect(body.errors).toBeUndefined();
      const events = (body.data as ActivityQuery).activity.edges.map((e) => e.node);
      expect(body.data.activity.totalCount).toBe(25 * 2 + 5);
      expect([...new Set(events.map((e) => e.requestId))].sort()).toEqual([...keyRequests].sort());
      const fields = events.map((e) => e.field);
      expect(fields.filter((f) => f === 'viewer')).toHaveLength(25);
      expect(fields.filter((f) => f === 'permissions')).toHaveLength(25);
      expect(fields.filter((f) => f === 'createCustomer')).toHaveLength(5);

      const users = await post(
        second,
        print(ActivityDocument),
        { environmentId: env.env.id, filter: { actorType: 'USER' } },
        asUser(await second.deps.sessions.mint(tenant.owner.id, 3600)),
      );
      expect(users.body.errors).toBeUndefined();
      const userEvents = (users.body.data as ActivityQuery).activity.edges.map((e) => e.node);
      expect(userEvents.map((e) => e.requestId).sort()).toEqual([...userRequests].sort());
      expect(userEvents.map((e) => e.field).sort()).toEqual(['apiKey', 'apiKeys']);
    } finally {
      await second?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeSecurityMatrix('activity', () => t, {
  permissions: ['activity:read'],
  roles: ROLES_THAT.read,
  targets: 'environment',
  call: (c, target) => t.run(ActivityDocument, { environmentId: target.dev.id }, c),
});

describe('no secret reaches the activity log', () => {
  it('holds none of the key secrets or session tokens used in this file, including freshly issued ones', async () => {
    const tenant = await tenantOf();
    const owner = { token: tenant.owner.token };
    // Secrets issued by calls that are themselves logged.
    const rotated = await t.run(
      RotateApiKeyDocument,
      { input: { id: (await scopedKeyOf(tenant, ['coupons:read'])).row.id, expireOldKeyIn: 'ONE_HOUR' } },
      owner,
    );
    const connected = await t.run(
      ConnectIntegrationDocument,
      { input: { environmentId: tenant.dev.id, type: 'HUBSPOT' } },
      owner,
    );
    const issued = [rotated.body.data!.rotateApiKey.secret, connected.body.data!.connectIntegration.secret];
    for (const secret of issued) {
      secretsUsed.add(secret);
      await t.run(ViewerDocument, {}, { key: secret });
    }
    // Also as a bearer token and from a failing call.
    await call(ViewerDocument, {}, { authorization: `Bearer ${tenant.dev.fullAccessKey.secret}` });
    await call(ApiKeyDetailDocument, { id: UNKNOWN_KEY_ID }, asKey(tenant.dev.fullAccessKey.secret));
    // Reading flushes the recorder; the calls made with the issued keys are in the log.
    const log = await logOf(tenant);
    for (const id of [
      rotated.body.data!.rotateApiKey.apiKey.id,
      connected.body.data!.connectIntegration.integration.apiKey!.id,
    ]) {
      expect(log.filter((e) => e.apiKey?.id === id).map((e) => e.field)).toEqual(['viewer']);
    }

    const rows = await storedActivityEvents(t.keygate.deps.db, t.keygate.deps.database.dialect, tenant.dev.id);
    expect(rows.length).toBeGreaterThanOrEqual(6);
    // Every stored text too (actors, fields), not only the events' columns.
    const dump = JSON.stringify([rows, await t.keygate.deps.db.selectFrom('activity_refs').selectAll().execute()]);
    // The whole credential, or its random part (key body after the prefix, token signature).
    const distinctive = (s: string) => (/^(server|client)-/.test(s) ? s.slice(7) : s.split('.')[2]!);
    const leaked = [...secretsUsed].filter((s) => dump.includes(s) || dump.includes(distinctive(s)));
    expect(leaked).toEqual([]);
  });
});
