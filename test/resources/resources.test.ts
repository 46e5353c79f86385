import { beforeAll, describe, expect, it } from 'vitest';
import {
  CancelSubscriptionDocument,
  CouponsDocument,
  CreateCouponDocument,
  CreateCustomerDocument,
  CreateSubscriptionDocument,
  CustomerDocument,
  CustomersDocument,
  UpdateCustomerDocument,
} from '../../src/client/generated/graphql.js';
import { type Credential, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate();
});

const count = async (table: 'customers' | 'subscriptions' | 'coupons', environmentId: string) =>
  Number(
    (
      await t.keygate.deps.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll().as('n'))
        .where('environment_id', '=', environmentId)
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('customers', () => {
  let tenant: Tenant;
  let server: Credential;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    server = { key: tenant.dev.fullAccessKey.secret };
  });

  it('creates, reads and updates a customer in the caller’s environment', async () => {
    const created = await t.run(
      CreateCustomerDocument,
      { input: { customerId: 'cus-1', name: 'Ada', email: 'ada@example.test', metadata: { tier: 'gold', seats: 3 } } },
      server,
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.createCustomer.customer).toMatchObject({
      id: expect.stringMatching(/^cus_/),
      customerId: 'cus-1',
      name: 'Ada',
      email: 'ada@example.test',
      metadata: { tier: 'gold', seats: 3 },
      createdAt: t.clock.now().toISOString(),
    });
    const updated = await t.run(
      UpdateCustomerDocument,
      { input: { customerId: 'cus-1', email: null, metadata: ['a', 1] } },
      server,
    );
    expect(updated.body.data!.updateCustomer.customer).toMatchObject({ name: 'Ada', email: null, metadata: ['a', 1] });
    const read = await t.run(CustomerDocument, { customerId: 'cus-1' }, server);
    expect(read.body.data!.customer).toMatchObject({
      customerId: 'cus-1',
      name: 'Ada',
      email: null,
      metadata: ['a', 1],
      subscriptions: [],
    });
  });

  it('rejects a duplicate customerId with CONFLICT and keeps the first', async () => {
    await t.run(CreateCustomerDocument, { input: { customerId: 'dup', name: 'First' } }, server);
    const again = await t.run(CreateCustomerDocument, { input: { customerId: 'dup', name: 'Second' } }, server);
    expect(codes(again.body)).toEqual(['CONFLICT']);
    expect((await t.run(CustomerDocument, { customerId: 'dup' }, server)).body.data!.customer!.name).toBe('First');
  });

  it('validates input, naming the field', async () => {
    const before = await count('customers', tenant.dev.id);
    const cases: [object, string][] = [
      [{ customerId: '' }, 'customerId'],
      [{ customerId: 'has space' }, 'customerId'],
      [{ customerId: 'x'.repeat(256) }, 'customerId'],
      [{ customerId: 'ok-1', email: 'not-an-email' }, 'email'],
      [{ customerId: 'ok-2', name: 'n'.repeat(201) }, 'name'],
      [{ customerId: 'ok-3', metadata: { blob: 'x'.repeat(17_000) } }, 'metadata'],
    ];
    for (const [input, field] of cases) {
      const { body } = await t.run(CreateCustomerDocument, { input: input as never }, server);
      expect(codes(body), field).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message.startsWith(`${field}:`)).toBe(true);
    }
    expect(await count('customers', tenant.dev.id)).toBe(before);
  });

  it('refuses control characters (C0, DEL, C1) and unpaired surrogates in an email, naming email, on both dialects', async () => {
    await t.run(CreateCustomerDocument, { input: { customerId: 'mail-kept', email: 'kept@example.test' } }, server);
    const before = await count('customers', tenant.dev.id);
    for (const email of [
      'a\u0000@example.test',
      'a@example.test\u0000',
      'a\u0007b@example.test',
      'a\u007f@example.test',
      'a\u0085@example.test',
      'a\u009f@example.test',
      'a\ud800@example.test',
    ]) {
      const created = await t.run(CreateCustomerDocument, { input: { customerId: 'mail-new', email } }, server);
      expect(codes(created.body), JSON.stringify(email)).toEqual(['BAD_USER_INPUT']);
      expect(created.body.errors![0]!.message).toMatch(/^email: /);
      const updated = await t.run(UpdateCustomerDocument, { input: { customerId: 'mail-kept', email } }, server);
      expect(codes(updated.body), JSON.stringify(email)).toEqual(['BAD_USER_INPUT']);
      expect(updated.body.errors![0]!.message).toMatch(/^email: /);
    }
    expect(await count('customers', tenant.dev.id)).toBe(before);
    expect((await t.run(CustomerDocument, { customerId: 'mail-kept' }, server)).body.data!.customer!.email).toBe(
      'kept@example.test',
    );
    // Non-ASCII letters are not control characters.
    const accented = await t.run(
      UpdateCustomerDocument,
      { input: { customerId: 'mail-kept', email: 'zoë@exämple.test' } },
      server,
    );
    expect(accented.body.data!.updateCustomer.customer.email).toBe('zoë@exämple.test');
  });

  it('refuses control characters and unpaired surrogates in a name, naming name, on both dialects', async () => {
    for (const name of ['A\u0000da', 'A\u0085da', 'A\udc00da']) {
      const { body } = await t.run(CreateCustomerDocument, { input: { customerId: 'named', name } }, server);
      expect(codes(body), JSON.stringify(name)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message).toMatch(/^name: /);
    }
  });

  it('refuses metadata with NUL or an unpaired surrogate in any string or key, naming metadata, on both dialects', async () => {
    await t.run(CreateCustomerDocument, { input: { customerId: 'meta-kept', metadata: { kept: true } } }, server);
    const before = await count('customers', tenant.dev.id);
    for (const metadata of [
      'a\u0000',
      { note: 'a\u0000b' },
      { 'k\u0000': 1 },
      [1, [{ deep: ['x', { deeper: '\u0000' }] }]],
      { note: 'half \ud83d pair' },
      { 'half \udc00 key': 1 },
    ]) {
      const created = await t.run(CreateCustomerDocument, { input: { customerId: 'meta-new', metadata } }, server);
      expect(codes(created.body), JSON.stringify(metadata)).toEqual(['BAD_USER_INPUT']);
      expect(created.body.errors![0]!.message).toMatch(/^metadata: /);
      const updated = await t.run(UpdateCustomerDocument, { input: { customerId: 'meta-kept', metadata } }, server);
      expect(codes(updated.body), JSON.stringify(metadata)).toEqual(['BAD_USER_INPUT']);
      expect(updated.body.errors![0]!.message).toMatch(/^metadata: /);
    }
    expect(await count('customers', tenant.dev.id)).toBe(before);
    expect((await t.run(CustomerDocument, { customerId: 'meta-kept' }, server)).body.data!.customer!.metadata).toEqual({
      kept: true,
    });
  });

  it('stores metadata with other control characters, the text "\\u0000" and astral characters as sent, on both dialects', async () => {
    const metadata = { note: 'tab\there\nline\u0001\u007f\u0085', escaped: '\\u0000', emoji: '😀', 'key\twith tab': [1, 'two'] };
    const created = await t.run(CreateCustomerDocument, { input: { customerId: 'meta-odd', metadata } }, server);
    expect(created.body.errors).toBeUndefined();
    expect((await t.run(CustomerDocument, { customerId: 'meta-odd' }, server)).body.data!.customer!.metadata).toEqual(metadata);
  });

  it('answers NOT_FOUND for unknown customers and never crosses environments', async () => {
    await t.run(CreateCustomerDocument, { input: { customerId: 'only-dev' } }, server);
    const missing = await t.run(CustomerDocument, { customerId: 'nobody' }, server);
    expect(missing.body.data!.customer).toBeNull();
    expect(codes(missing.body)).toEqual(['NOT_FOUND']);
    const fromProd = await t.run(CustomerDocument, { customerId: 'only-dev' }, { key: tenant.prod.fullAccessKey.secret });
    expect(codes(fromProd.body)).toEqual(['NOT_FOUND']);
    const prodNamingDev = await t.run(
      CustomerDocument,
      { environmentId: tenant.dev.id, customerId: 'only-dev' },
      { key: tenant.prod.fullAccessKey.secret },
    );
    expect(codes(prodNamingDev.body)).toEqual(['NOT_FOUND']);
    const update = await t.run(UpdateCustomerDocument, { input: { customerId: 'nobody', name: 'x' } }, server);
    expect(codes(update.body)).toEqual(['NOT_FOUND']);
  });

  it('lets members write and read-only users only read', async () => {
    const member = await tenant.user('MEMBER');
    const readOnly = await tenant.user('READ_ONLY');
    const byMember = await t.run(
      CreateCustomerDocument,
      { input: { environmentId: tenant.dev.id, customerId: 'by-member' } },
      { token: member.token },
    );
    expect(byMember.body.errors).toBeUndefined();
    const byReader = await t.run(
      CreateCustomerDocument,
      { input: { environmentId: tenant.dev.id, customerId: 'by-reader' } },
      { token: readOnly.token },
    );
    expect(codes(byReader.body)).toEqual(['FORBIDDEN']);
    const list = await t.run(CustomersDocument, { environmentId: tenant.dev.id }, { token: readOnly.token });
    expect(list.body.data!.customers.edges.map((e) => e.node.customerId)).toContain('by-member');
  });
});

describe('customer list with subscriptions', () => {
  let tenant: Tenant;
  let server: Credential;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    server = { key: tenant.dev.fullAccessKey.secret };
    for (let i = 0; i < 120; i++) {
      await t.run(
        CreateCustomerDocument,
        { input: { customerId: `c${String(i).padStart(3, '0')}`, name: `Customer ${i}` } },
        server,
      );
      if (i % 2 === 0) {
        await t.run(
          CreateSubscriptionDocument,
          { input: { customerId: `c${String(i).padStart(3, '0')}`, planId: 'pro' } },
          server,
        );
        await t.run(
          CreateSubscriptionDocument,
          { input: { customerId: `c${String(i).padStart(3, '0')}`, planId: 'addon' } },
          server,
        );
      }
    }
  });

  const statementsFor = async (first: number) => {
    const seen: string[] = [];
    const stop = t.keygate.deps.database.observe((sql) => seen.push(sql));
    try {
      const { body } = await t.run(CustomersDocument, { first }, server);
      expect(body.errors).toBeUndefined();
      expect(body.data!.customers.edges).toHaveLength(first);
      expect(body.data!.customers.edges[0]!.node.subscriptions!.map((s) => s.planId)).toEqual(['pro', 'addon']);
      expect(body.data!.customers.edges[1]!.node.subscriptions).toEqual([]);
    } finally {
      stop();
    }
    // The page's reads only: the activity log's and key usage's writes flush on their own schedule,
    // so one of them may or may not land inside this window whatever the page size.
    return seen.filter((sql) => /^\s*select\b/i.test(sql) && !sql.includes('"activity_'));
  };

  it('costs a constant number of SQL statements whatever the page size (DataLoader)', async () => {
    const ten = await statementsFor(10);
    const hundred = await statementsFor(100);
    expect(hundred.length).toBe(ten.length);
    expect(hundred.length).toBeLessThanOrEqual(6);
    expect(hundred.filter((sql) => sql.includes('from "subscriptions"'))).toHaveLength(1);
  });

  it('pages through every customer once, in creation order', async () => {
    const seen: string[] = [];
    let after: string | null | undefined;
    do {
      const { body } = await t.run(CustomersDocument, { first: 50, after }, server);
      expect(body.data!.customers.totalCount).toBe(120);
      seen.push(...body.data!.customers.edges.map((e) => e.node.customerId));
      after = body.data!.customers.pageInfo.hasNextPage ? body.data!.customers.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual(Array.from({ length: 120 }, (_, i) => `c${String(i).padStart(3, '0')}`));
  });
});

describe('subscriptions', () => {
  let tenant: Tenant;
  let server: Credential;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    server = { key: tenant.dev.fullAccessKey.secret };
    await t.run(CreateCustomerDocument, { input: { customerId: 'sub-owner' } }, server);
  });

  it('creates and cancels a subscription; cancelling twice is a CONFLICT', async () => {
    const created = await t.run(
      CreateSubscriptionDocument,
      { input: { customerId: 'sub-owner', planId: 'pro_monthly' } },
      server,
    );
    const subscription = created.body.data!.createSubscription.subscription;
    expect(subscription).toMatchObject({ planId: 'pro_monthly', status: 'ACTIVE', customer: { customerId: 'sub-owner' } });
    t.clock.advance(60_000);
    const canceled = await t.run(CancelSubscriptionDocument, { input: { id: subscription.id } }, server);
    expect(canceled.body.data!.cancelSubscription.subscription).toEqual({
      id: subscription.id,
      status: 'CANCELED',
      canceledAt: t.clock.now().toISOString(),
    });
    const again = await t.run(CancelSubscriptionDocument, { input: { id: subscription.id } }, server);
    expect(codes(again.body)).toEqual(['CONFLICT']);
    const customer = await t.run(CustomerDocument, { customerId: 'sub-owner' }, server);
    expect(customer.body.data!.customer!.subscriptions).toEqual([
      {
        id: subscription.id,
        planId: 'pro_monthly',
        status: 'CANCELED',
        createdAt: expect.any(String),
        canceledAt: t.clock.now().toISOString(),
      },
    ]);
  });

  it('needs an existing customer of the environment and rejects a bad planId', async () => {
    const noCustomer = await t.run(CreateSubscriptionDocument, { input: { customerId: 'ghost', planId: 'pro' } }, server);
    expect(codes(noCustomer.body)).toEqual(['NOT_FOUND']);
    const badPlan = await t.run(CreateSubscriptionDocument, { input: { customerId: 'sub-owner', planId: '' } }, server);
    expect(codes(badPlan.body)).toEqual(['BAD_USER_INPUT']);
    const otherEnv = await t.run(
      CreateSubscriptionDocument,
      { input: { customerId: 'sub-owner', planId: 'pro' } },
      { key: tenant.prod.fullAccessKey.secret },
    );
    expect(codes(otherEnv.body)).toEqual(['NOT_FOUND']);
  });

  it('answers NUL and control characters in customerId and planId the same way on both dialects', async () => {
    const ghost = await t.run(CreateSubscriptionDocument, { input: { customerId: 'sub-owner\u0000', planId: 'pro' } }, server);
    expect(codes(ghost.body)).toEqual(['NOT_FOUND']);
    for (const planId of ['pro\u0000', 'pro\u0085']) {
      const { body } = await t.run(CreateSubscriptionDocument, { input: { customerId: 'sub-owner', planId } }, server);
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message).toMatch(/^planId: /);
    }
  });

  it('nulls Subscription.customer with FORBIDDEN for a key without customers:read', async () => {
    const writer = await tenant.scopedKey(['subscriptions:write']);
    const { body } = await t.run(
      CreateSubscriptionDocument,
      { input: { customerId: 'sub-owner', planId: 'basic' } },
      { key: writer.secret },
    );
    expect(body.data!.createSubscription.subscription).toMatchObject({ planId: 'basic', customer: null });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.path).toEqual(['createSubscription', 'subscription', 'customer']);
  });

  it('nulls Customer.subscriptions with FORBIDDEN for a key without subscriptions:read', async () => {
    const reader = await tenant.scopedKey(['customers:read']);
    const { body } = await t.run(CustomerDocument, { customerId: 'sub-owner' }, { key: reader.secret });
    expect(body.data!.customer).toMatchObject({ customerId: 'sub-owner', subscriptions: null });
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.message).toContain('subscriptions:read');
  });
});

describe('coupons', () => {
  let tenant: Tenant;
  let server: Credential;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    server = { key: tenant.dev.fullAccessKey.secret };
  });

  it('creates and lists coupons; codes are unique per environment', async () => {
    const created = await t.run(CreateCouponDocument, { input: { code: 'SPRING25', percentOff: 25 } }, server);
    expect(created.body.data!.createCoupon.coupon).toMatchObject({ code: 'SPRING25', percentOff: 25 });
    expect(codes((await t.run(CreateCouponDocument, { input: { code: 'SPRING25', percentOff: 10 } }, server)).body)).toEqual([
      'CONFLICT',
    ]);
    const inProd = await t.run(
      CreateCouponDocument,
      { input: { code: 'SPRING25', percentOff: 10 } },
      { key: tenant.prod.fullAccessKey.secret },
    );
    expect(inProd.body.errors).toBeUndefined();
    const list = await t.run(CouponsDocument, {}, server);
    expect(list.body.data!.coupons).toMatchObject({ totalCount: 1, edges: [{ node: { code: 'SPRING25', percentOff: 25 } }] });
  });

  it('refuses NUL and control characters in a coupon code, naming code, on both dialects', async () => {
    for (const code of ['SPRING\u0000', 'SPRING\u0085']) {
      const { body } = await t.run(CreateCouponDocument, { input: { code, percentOff: 5 } }, server);
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message).toMatch(/^code: /);
    }
  });

  it('rejects percentOff outside 1..100, naming the field and limit', async () => {
    for (const percentOff of [-5, 0, 101, 1000]) {
      const { body } = await t.run(
        CreateCouponDocument,
        { input: { code: `P${percentOff}`.replace('-', 'M'), percentOff } },
        server,
      );
      expect(codes(body)).toEqual(['BAD_USER_INPUT']);
      expect(body.errors![0]!.message).toMatch(/^percentOff: .*1 to 100/);
    }
    expect(await count('coupons', tenant.dev.id)).toBe(1);
  });
});

describeSecurityMatrix('customers', () => t, {
  permissions: ['customers:read'],
  roles: ROLES_THAT.read,
  targets: 'environment',
  call: (c, target) => t.run(CustomersDocument, { environmentId: target.dev.id }, c),
});
describeSecurityMatrix('createCustomer', () => t, {
  permissions: ['customers:write'],
  roles: ROLES_THAT.writeResources,
  targets: 'environment',
  call: (c, target) =>
    t.run(
      CreateCustomerDocument,
      { input: { environmentId: target.dev.id, customerId: `m-${Math.random().toString(36).slice(2)}` } },
      c,
    ),
});
describeSecurityMatrix('updateCustomer', () => t, {
  permissions: ['customers:write'],
  roles: ROLES_THAT.writeResources,
  targets: 'environment',
  call: async (c, target) => {
    await t.run(
      CreateCustomerDocument,
      { input: { environmentId: target.dev.id, customerId: 'matrix-u' } },
      { key: target.dev.fullAccessKey.secret },
    );
    return t.run(UpdateCustomerDocument, { input: { environmentId: target.dev.id, customerId: 'matrix-u', name: 'n' } }, c);
  },
});
describeSecurityMatrix('createSubscription', () => t, {
  permissions: ['subscriptions:write'],
  roles: ROLES_THAT.writeResources,
  targets: 'environment',
  call: async (c, target) => {
    await t.run(
      CreateCustomerDocument,
      { input: { environmentId: target.dev.id, customerId: 'matrix-s' } },
      { key: target.dev.fullAccessKey.secret },
    );
    return t.query(
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id planId } } }',
      { input: { environmentId: target.dev.id, customerId: 'matrix-s', planId: 'p' } },
      c,
    );
  },
});
describeSecurityMatrix('cancelSubscription', () => t, {
  permissions: ['subscriptions:write'],
  roles: ROLES_THAT.writeResources,
  targets: 'environment',
  call: async (c, target) => {
    const owner = { key: target.dev.fullAccessKey.secret };
    await t.run(CreateCustomerDocument, { input: { customerId: 'matrix-c' } }, owner);
    const sub = await t.run(CreateSubscriptionDocument, { input: { customerId: 'matrix-c', planId: 'p' } }, owner);
    return t.run(CancelSubscriptionDocument, { input: { id: sub.body.data!.createSubscription.subscription.id } }, c);
  },
});
describeSecurityMatrix('coupons', () => t, {
  permissions: ['coupons:read'],
  roles: ROLES_THAT.read,
  targets: 'environment',
  call: (c, target) => t.run(CouponsDocument, { environmentId: target.dev.id }, c),
});
describeSecurityMatrix('createCoupon', () => t, {
  permissions: ['coupons:write'],
  roles: ROLES_THAT.writeResources,
  targets: 'environment',
  call: (c, target) =>
    t.run(
      CreateCouponDocument,
      { input: { environmentId: target.dev.id, code: `M${Math.random().toString(36).slice(2)}`, percentOff: 5 } },
      c,
    ),
});
