import { createHmac } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCustomerToken } from '../../src/client/customer-token.js';
import {
  ClientCustomerDocument,
  CouponsDocument,
  CreateCouponDocument,
  CreateCustomerDocument,
  CreateSubscriptionDocument,
  CustomerDocument,
  CustomersDocument,
  RotateSigningSecretDocument,
  SetClientSideSecurityDocument,
  SigningSecretDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { insertCustomer } from '../../src/modules/customer/customer.repository.js';
import { CATALOGUE_NAMES } from '../../src/modules/permission/permission.catalogue.js';
import { MINUTE } from '../../src/shared/clock.js';
import { newId } from '../../src/shared/ids.js';
import { type Credential, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { describeSecurityMatrix, ROLES_THAT } from '../harness/security-matrix.js';

let t: TestKeygate;
beforeAll(async () => {
  t = await startTestKeygate();
});

/** The platform's published helper, computed here with node's crypto, independently of Keygate's code. */
const platformToken = (customerId: string, signingSecret: string) =>
  `HMAC-SHA256 ${customerId}:${createHmac('sha256', signingSecret).update(customerId).digest('hex')}`;

/** The Development publishable key, with an X-Customer-Token when one is given. */
const publishable = (tenant: Tenant, customerToken?: string): Credential =>
  customerToken === undefined
    ? { key: tenant.dev.publishableKey.secret }
    : { headers: { 'x-api-key': tenant.dev.publishableKey.secret, 'x-customer-token': customerToken } };

const fullAccess = (tenant: Tenant): Credential => ({ key: tenant.dev.fullAccessKey.secret });

/** The Development signing secret, read through the contract operation with the full access key. */
async function signingSecretOf(tenant: Tenant, env: 'dev' | 'prod' = 'dev'): Promise<string> {
  const { body } = await t.run(SigningSecretDocument, { id: tenant[env].id }, { key: tenant[env].fullAccessKey.secret });
  const secret = body.data?.environment?.signingSecret;
  if (!secret) throw new Error(`no signing secret: ${JSON.stringify(body)}`);
  return secret;
}

async function setEnforced(tenant: Tenant, enforced: boolean): Promise<void> {
  const { body } = await t.run(SetClientSideSecurityDocument, { input: { enforced } }, fullAccess(tenant));
  expect(body.errors).toBeUndefined();
  expect(body.data!.setClientSideSecurity.environment.clientSideSecurity).toBe(enforced ? 'ENFORCED' : 'NOT_ENFORCED');
}

interface SeededCustomer {
  id: string;
  customerId: string;
  name: string;
  email: string;
  subscriptionId: string;
}

/** A customer with personal data and one subscription, created through the API with the full access key. */
async function seedCustomer(tenant: Tenant, customerId: string, env: 'dev' | 'prod' = 'dev'): Promise<SeededCustomer> {
  const key = { key: tenant[env].fullAccessKey.secret };
  const name = `Name of ${customerId}`;
  const email = `${customerId.replace(/[^a-z0-9]/gi, '')}@personal.example`;
  const created = await t.run(
    CreateCustomerDocument,
    { input: { customerId, name, email, metadata: { tier: 'gold-personal' } } },
    key,
  );
  expect(created.body.errors).toBeUndefined();
  const subscription = await t.run(CreateSubscriptionDocument, { input: { customerId, planId: 'pro-monthly' } }, key);
  expect(subscription.body.errors).toBeUndefined();
  return {
    id: created.body.data!.createCustomer.customer.id,
    customerId,
    name,
    email,
    subscriptionId: subscription.body.data!.createSubscription.subscription.id,
  };
}

/** What ClientCustomerDocument must answer for a customer. */
const clientView = (c: SeededCustomer) => ({
  id: c.id,
  customerId: c.customerId,
  name: c.name,
  subscriptions: [{ id: c.subscriptionId, planId: 'pro-monthly', status: 'ACTIVE' }],
});

/** A publishable read refused for its customer token: `customer` is null and nothing of the customer leaks. */
function expectInvalidToken(body: ExecutionResult<unknown>, customer?: SeededCustomer): void {
  expect(body.data).toEqual({ customer: null });
  expect(codes(body)).toEqual(['INVALID_CUSTOMER_TOKEN']);
  expect(body.errors![0]!.path).toEqual(['customer']);
  if (customer) {
    const text = JSON.stringify(body);
    expect(text).not.toContain(customer.id);
    expect(text).not.toContain(customer.name);
    expect(text).not.toContain(customer.subscriptionId);
  }
}

/** Rows of the protected resources in an environment. */
async function resourceCounts(environmentId: string) {
  const { db } = t.keygate.deps;
  const n = (row: { n: string | number | bigint }) => Number(row.n);
  return {
    customers: n(
      await db
        .selectFrom('customers')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('environment_id', '=', environmentId)
        .executeTakeFirstOrThrow(),
    ),
    subscriptions: n(
      await db
        .selectFrom('subscriptions')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('environment_id', '=', environmentId)
        .executeTakeFirstOrThrow(),
    ),
    coupons: n(
      await db
        .selectFrom('coupons')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('environment_id', '=', environmentId)
        .executeTakeFirstOrThrow(),
    ),
  };
}

/** The client-safe fields plus email and metadata. */
const CUSTOMER_WITH_PERSONAL_DATA = `query($customerId: String!) {
  customer(customerId: $customerId) {
    id customerId name email metadata
    subscriptions { id planId status createdAt canceledAt }
  }
}`;

describe('publishable key: one customer, client-safe fields', () => {
  let tenant: Tenant;
  let alice: SeededCustomer;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    alice = await seedCustomer(tenant, 'cus_alice');
  });

  it('reads one customer through customer(customerId:) with the client-safe fields and no errors', async () => {
    const { status, body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ customer: clientView(alice) });
  });

  it('may use viewer and permissions, and holds only the fixed client scope', async () => {
    const { body } = await t.run(ViewerDocument, {}, publishable(tenant));
    expect(body.errors).toBeUndefined();
    expect(body.data!.viewer).toMatchObject({
      kind: 'API_KEY',
      permissions: ['customers:read_public', 'subscriptions:read_public'],
      apiKey: { id: tenant.dev.publishableKey.row.id, type: 'PUBLISHABLE' },
    });
  });

  it('gets email and metadata as null with FORBIDDEN on exactly those paths; the rest is intact', async () => {
    const { body } = await t.query(CUSTOMER_WITH_PERSONAL_DATA, { customerId: 'cus_alice' }, publishable(tenant));
    expect(body.data).toEqual({
      customer: {
        id: alice.id,
        customerId: 'cus_alice',
        name: alice.name,
        email: null,
        metadata: null,
        // SPEC §5: the subscriptions' createdAt and canceledAt are client-safe.
        subscriptions: [
          { id: alice.subscriptionId, planId: 'pro-monthly', status: 'ACTIVE', createdAt: expect.any(String), canceledAt: null },
        ],
      },
    });
    expect(codes(body)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect(body.errors!.map((e) => e.path)).toEqual([
      ['customer', 'email'],
      ['customer', 'metadata'],
    ]);
    for (const error of body.errors!) expect(error.message).toContain('customers:read');
    expect(JSON.stringify(body)).not.toContain(alice.email);
    expect(JSON.stringify(body)).not.toContain('gold-personal');
  });

  it('with CustomerDocument (createdAt included), only email and metadata are denied; the customer stays', async () => {
    // Customer.createdAt is non-null in the contract and not personal data: Keygate lets the
    // client scope read it, so denying email/metadata never nulls the whole customer.
    const { body } = await t.run(CustomerDocument, { customerId: 'cus_alice' }, publishable(tenant));
    expect(body.data!.customer).toMatchObject({
      id: alice.id,
      customerId: 'cus_alice',
      name: alice.name,
      email: null,
      metadata: null,
      createdAt: expect.any(String),
    });
    expect(codes(body)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect(body.errors!.map((e) => e.path)).toEqual([
      ['customer', 'email'],
      ['customer', 'metadata'],
    ]);
    const text = JSON.stringify(body);
    expect(text).not.toContain(alice.email);
    expect(text).not.toContain('gold-personal');
  });
});

describe('publishable key: no lists, no writes', () => {
  let tenant: Tenant;
  let alice: SeededCustomer;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    alice = await seedCustomer(tenant, 'cus_alice');
    const coupon = await t.run(CreateCouponDocument, { input: { code: 'SECRET50', percentOff: 50 } }, fullAccess(tenant));
    expect(coupon.body.errors).toBeUndefined();
  });

  it('cannot list customers (FORBIDDEN naming customers:read, nothing listed)', async () => {
    const { body } = await t.run(CustomersDocument, {}, publishable(tenant));
    expect(body.data ?? null).toBeNull();
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.path).toEqual(['customers']);
    expect(body.errors![0]!.message).toContain('customers:read');
    expect(JSON.stringify(body)).not.toContain(alice.id);
  });

  it('cannot list coupons (FORBIDDEN naming coupons:read, nothing listed)', async () => {
    const { body } = await t.run(CouponsDocument, {}, publishable(tenant));
    expect(body.data ?? null).toBeNull();
    expect(codes(body)).toEqual(['FORBIDDEN']);
    expect(body.errors![0]!.path).toEqual(['coupons']);
    expect(body.errors![0]!.message).toContain('coupons:read');
    expect(JSON.stringify(body)).not.toContain('SECRET50');
  });

  it('cannot createCustomer, createSubscription or createCoupon: FORBIDDEN and nothing is written', async () => {
    const before = await resourceCounts(tenant.dev.id);
    expect(before).toEqual({ customers: 1, subscriptions: 1, coupons: 1 });
    const attempts = [
      {
        field: 'createCustomer',
        permission: 'customers:write',
        run: () => t.run(CreateCustomerDocument, { input: { customerId: 'cus_mallory', name: 'Mallory' } }, publishable(tenant)),
      },
      {
        field: 'createSubscription',
        permission: 'subscriptions:write',
        run: () =>
          t.run(CreateSubscriptionDocument, { input: { customerId: 'cus_alice', planId: 'free-forever' } }, publishable(tenant)),
      },
      {
        field: 'createCoupon',
        permission: 'coupons:write',
        run: () => t.run(CreateCouponDocument, { input: { code: 'FREE100', percentOff: 100 } }, publishable(tenant)),
      },
    ];
    for (const attempt of attempts) {
      const { body } = await attempt.run();
      expect(body.data ?? null, attempt.field).toBeNull();
      expect(codes(body), attempt.field).toEqual(['FORBIDDEN']);
      expect(body.errors![0]!.path).toEqual([attempt.field]);
      expect(body.errors![0]!.message).toContain(attempt.permission);
    }
    expect(await resourceCounts(tenant.dev.id)).toEqual(before);
  });
});

describe('managing client-side security and the signing secret', () => {
  let tenant: Tenant;
  beforeAll(async () => {
    tenant = await seedTenant(t);
  });

  const stateOf = async () => {
    const { body } = await t.run(SigningSecretDocument, { id: tenant.dev.id }, { token: tenant.owner.token });
    return body.data!.environment!;
  };

  it('lets the owner and the full access key enforce and relax client-side security', async () => {
    expect((await stateOf()).clientSideSecurity).toBe('NOT_ENFORCED');
    const byOwner = await t.run(
      SetClientSideSecurityDocument,
      { input: { environmentId: tenant.dev.id, enforced: true } },
      { token: tenant.owner.token },
    );
    expect(byOwner.body.errors).toBeUndefined();
    expect(byOwner.body.data!.setClientSideSecurity.environment).toEqual({ id: tenant.dev.id, clientSideSecurity: 'ENFORCED' });
    expect((await stateOf()).clientSideSecurity).toBe('ENFORCED');

    const byKey = await t.run(SetClientSideSecurityDocument, { input: { enforced: false } }, fullAccess(tenant));
    expect(byKey.body.errors).toBeUndefined();
    expect(byKey.body.data!.setClientSideSecurity.environment).toEqual({ id: tenant.dev.id, clientSideSecurity: 'NOT_ENFORCED' });
    expect((await stateOf()).clientSideSecurity).toBe('NOT_ENFORCED');
  });

  it('lets the owner and the full access key rotate the signing secret; signingSecret shows the new one', async () => {
    const original = await signingSecretOf(tenant);
    const byOwner = await t.run(
      RotateSigningSecretDocument,
      { input: { environmentId: tenant.dev.id } },
      { token: tenant.owner.token },
    );
    expect(byOwner.body.errors).toBeUndefined();
    const first = byOwner.body.data!.rotateSigningSecret.environment.signingSecret!;
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(first).not.toBe(original);
    expect(await signingSecretOf(tenant)).toBe(first);

    const byKey = await t.run(RotateSigningSecretDocument, { input: {} }, fullAccess(tenant));
    expect(byKey.body.errors).toBeUndefined();
    const second = byKey.body.data!.rotateSigningSecret.environment.signingSecret!;
    expect(second).toMatch(/^[0-9a-f]{64}$/);
    expect(second).not.toBe(first);
    expect((await stateOf()).signingSecret).toBe(second);
    // Production's secret is its own and untouched.
    expect(await signingSecretOf(tenant, 'prod')).not.toBe(second);
  });

  it('is FORBIDDEN (naming environment:manage) to members, read-only users, whole-catalogue scoped keys and the publishable key; nothing changes', async () => {
    const member = await tenant.user('MEMBER');
    const readOnly = await tenant.user('READ_ONLY');
    const allScopes = await tenant.scopedKey([...CATALOGUE_NAMES]);
    const before = await stateOf();
    const callers: [string, Credential][] = [
      ['member', { token: member.token }],
      ['read-only user', { token: readOnly.token }],
      ['scoped key with the whole catalogue', { key: allScopes.secret }],
      ['publishable key', { key: tenant.dev.publishableKey.secret }],
    ];
    for (const [who, credential] of callers) {
      const set = await t.run(
        SetClientSideSecurityDocument,
        { input: { environmentId: tenant.dev.id, enforced: true } },
        credential,
      );
      expect(codes(set.body), who).toEqual(['FORBIDDEN']);
      expect(set.body.errors![0]!.path).toEqual(['setClientSideSecurity']);
      expect(set.body.errors![0]!.message).toContain('environment:manage');
      expect(set.body.data ?? null).toBeNull();

      const rotate = await t.run(RotateSigningSecretDocument, { input: { environmentId: tenant.dev.id } }, credential);
      expect(codes(rotate.body), who).toEqual(['FORBIDDEN']);
      expect(rotate.body.errors![0]!.path).toEqual(['rotateSigningSecret']);
      expect(rotate.body.errors![0]!.message).toContain('environment:manage');
      expect(rotate.body.data ?? null).toBeNull();

      const read = await t.run(SigningSecretDocument, { id: tenant.dev.id }, credential);
      expect(codes(read.body), who).toEqual(['FORBIDDEN']);
      if (who === 'publishable key') {
        // It may not read environments at all (SPEC §5), so the refusal comes one level up.
        expect(read.body.data?.environment ?? null).toBeNull();
        expect(read.body.errors![0]!.path).toEqual(['environment']);
        expect(read.body.errors![0]!.message).toContain('environment:read');
        continue;
      }
      expect(read.body.data!.environment, who).toEqual({
        id: tenant.dev.id,
        clientSideSecurity: 'NOT_ENFORCED',
        signingSecret: null,
      });
      expect(read.body.errors![0]!.path).toEqual(['environment', 'signingSecret']);
      expect(read.body.errors![0]!.message).toContain('environment:manage');
    }
    expect(await stateOf()).toEqual(before);
  });
});

describe('client-side security ENFORCED', () => {
  let tenant: Tenant;
  let alice: SeededCustomer;
  let bob: SeededCustomer;
  let secret: string;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    alice = await seedCustomer(tenant, 'cus_alice');
    bob = await seedCustomer(tenant, 'cus_bob');
    await setEnforced(tenant, true);
    secret = await signingSecretOf(tenant);
  });

  it('refuses the publishable key without X-Customer-Token: INVALID_CUSTOMER_TOKEN and customer null', async () => {
    const { status, body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant));
    expect(status).toBe(200);
    expectInvalidToken(body, alice);
  });

  it("accepts a platform-form token computed with node's createHmac over the signing secret", async () => {
    const token = platformToken('cus_alice', secret);
    expect(token).toMatch(/^HMAC-SHA256 cus_alice:[0-9a-f]{64}$/);
    const { body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, token));
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ customer: clientView(alice) });
  });

  it('accepts an expiring token from createCustomerToken until it expires, then INVALID_CUSTOMER_TOKEN', async () => {
    const issuedAt = t.clock.now();
    const token = createCustomerToken('cus_alice', secret, { expiresIn: '15m', now: issuedAt });
    const expiry = Math.floor(issuedAt.getTime() / 1000) * 1000 + 15 * MINUTE;
    const read = () => t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, token));

    const fresh = await read();
    expect(fresh.body.errors).toBeUndefined();
    expect(fresh.body.data).toEqual({ customer: clientView(alice) });

    t.clock.advance(expiry - 1 - t.clock.now().getTime());
    const lastMoment = await read();
    expect(lastMoment.body.errors).toBeUndefined();
    expect(lastMoment.body.data).toEqual({ customer: clientView(alice) });

    t.clock.advance(1);
    const expired = await read();
    expectInvalidToken(expired.body, alice);
    expect(expired.body.errors![0]!.message).toContain('expired');

    // A platform-form token has no expiry and still works.
    const platform = await t.run(
      ClientCustomerDocument,
      { customerId: 'cus_alice' },
      publishable(tenant, platformToken('cus_alice', secret)),
    );
    expect(platform.body.data).toEqual({ customer: clientView(alice) });
  });

  it("refuses a valid token for another customer (bob's token cannot read alice)", async () => {
    const bobsToken = platformToken('cus_bob', secret);
    const own = await t.run(ClientCustomerDocument, { customerId: 'cus_bob' }, publishable(tenant, bobsToken));
    expect(own.body.data).toEqual({ customer: clientView(bob) });
    const { body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, bobsToken));
    expectInvalidToken(body, alice);
    const expiring = createCustomerToken('cus_bob', secret, { expiresIn: 600, now: t.clock.now() });
    expectInvalidToken(
      (await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, expiring))).body,
      alice,
    );
  });

  it('refuses malformed tokens with INVALID_CUSTOMER_TOKEN', async () => {
    const good = platformToken('cus_alice', secret);
    const mac = good.slice(good.lastIndexOf(':') + 1);
    const malformed = [
      'garbage',
      'cus_alice',
      `HMAC-SHA256 cus_alice:${mac.slice(0, 40)}`,
      `HMAC-SHA256 cus_alice:${mac.toUpperCase()}`,
      `HMAC-SHA512 cus_alice:${mac}`,
      `HMAC-SHA256-EXP cus_alice:${mac}`,
      `${good}${'0'.repeat(1100)}`,
      `HMAC-SHA256 ${'cus_alice'.repeat(200)}:${mac}`,
    ];
    for (const token of malformed) {
      const { body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, token));
      expectInvalidToken(body, alice);
    }
  });

  it("refuses a token signed with another environment's signing secret", async () => {
    const prodSecret = await signingSecretOf(tenant, 'prod');
    expect(prodSecret).not.toBe(secret);
    const { body } = await t.run(
      ClientCustomerDocument,
      { customerId: 'cus_alice' },
      publishable(tenant, platformToken('cus_alice', prodSecret)),
    );
    expectInvalidToken(body, alice);
  });

  it('does not let a server credential holding customers:read be affected by a bad customer token', async () => {
    // Documented in client-security.service: tokens are ignored for callers with customers:read.
    const scoped = await tenant.scopedKey(['customers:read', 'subscriptions:read']);
    const callers: [string, Credential, string | null][] = [
      ['full access key', { headers: { 'x-api-key': tenant.dev.fullAccessKey.secret, 'x-customer-token': 'garbage' } }, null],
      [
        'scoped customers:read key',
        { headers: { 'x-api-key': scoped.secret, 'x-customer-token': platformToken('cus_bob', secret) } },
        null,
      ],
      [
        'owner session',
        { headers: { authorization: `Bearer ${tenant.owner.token}`, 'x-customer-token': 'HMAC-SHA256 cus_alice:00' } },
        tenant.dev.id,
      ],
    ];
    for (const [who, credential, environmentId] of callers) {
      const { status, body } = await t.run(CustomerDocument, { environmentId, customerId: 'cus_alice' }, credential);
      expect(status, who).toBe(200);
      expect(body.errors, who).toBeUndefined();
      expect(body.data!.customer, who).toMatchObject({
        id: alice.id,
        customerId: 'cus_alice',
        name: alice.name,
        email: alice.email,
        metadata: { tier: 'gold-personal' },
        subscriptions: [expect.objectContaining({ id: alice.subscriptionId })],
      });
    }
  });
});

describe('a valid customer token grants nothing beyond that customer’s client-safe fields', () => {
  let tenant: Tenant;
  let alice: SeededCustomer;
  let bob: SeededCustomer;
  let alicesToken: string;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    alice = await seedCustomer(tenant, 'cus_alice');
    bob = await seedCustomer(tenant, 'cus_bob');
    await seedCustomer(tenant, 'cus_alice', 'prod');
    await setEnforced(tenant, true);
    alicesToken = platformToken('cus_alice', await signingSecretOf(tenant));
  });

  it("does not read another customer with alice's token", async () => {
    const { body } = await t.run(ClientCustomerDocument, { customerId: 'cus_bob' }, publishable(tenant, alicesToken));
    expectInvalidToken(body, bob);
  });

  it('does not read email or metadata, even for alice', async () => {
    const { body } = await t.query(CUSTOMER_WITH_PERSONAL_DATA, { customerId: 'cus_alice' }, publishable(tenant, alicesToken));
    expect(body.data!.customer).toMatchObject({ id: alice.id, name: alice.name, email: null, metadata: null });
    expect(codes(body)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect(body.errors!.map((e) => e.path)).toEqual([
      ['customer', 'email'],
      ['customer', 'metadata'],
    ]);
    expect(JSON.stringify(body)).not.toContain(alice.email);
  });

  it('does not list customers or coupons, nor write anything', async () => {
    const before = await resourceCounts(tenant.dev.id);
    const credential = publishable(tenant, alicesToken);
    const attempts = await Promise.all([
      t.run(CustomersDocument, {}, credential),
      t.run(CouponsDocument, {}, credential),
      t.run(CreateCustomerDocument, { input: { customerId: 'cus_mallory' } }, credential),
      t.run(CreateSubscriptionDocument, { input: { customerId: 'cus_alice', planId: 'free-forever' } }, credential),
      t.run(CreateCouponDocument, { input: { code: 'FREE100', percentOff: 100 } }, credential),
    ]);
    for (const { body } of attempts) {
      expect(codes(body)).toEqual(['FORBIDDEN']);
      expect(body.data ?? null).toBeNull();
    }
    expect(JSON.stringify(attempts[0]!.body)).not.toContain(bob.id);
    expect(await resourceCounts(tenant.dev.id)).toEqual(before);
  });

  it('does not reach another environment (NOT_FOUND, never the other customer)', async () => {
    const { body } = await t.run(
      CustomerDocument,
      { environmentId: tenant.prod.id, customerId: 'cus_alice' },
      publishable(tenant, alicesToken),
    );
    expect(body.data).toEqual({ customer: null });
    expect(codes(body)).toEqual(['NOT_FOUND']);
  });
});

describe('unknown customers: the token is checked before existence', () => {
  let tenant: Tenant;
  let secret: string;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    await seedCustomer(tenant, 'cus_alice');
    await setEnforced(tenant, true);
    secret = await signingSecretOf(tenant);
  });

  it('answers NOT_FOUND to a valid token for a customer that does not exist', async () => {
    const { body } = await t.run(
      ClientCustomerDocument,
      { customerId: 'cus_ghost' },
      publishable(tenant, platformToken('cus_ghost', secret)),
    );
    expect(body.data).toEqual({ customer: null });
    expect(codes(body)).toEqual(['NOT_FOUND']);
    expect(body.errors![0]!.path).toEqual(['customer']);
  });

  it('answers INVALID_CUSTOMER_TOKEN to an invalid or missing token, identically whether the customer exists or not', async () => {
    const wrongSecret = 'f'.repeat(64);
    for (const token of [
      undefined,
      'garbage',
      platformToken('cus_someone_else', secret),
      (id: string) => platformToken(id, wrongSecret),
    ]) {
      const read = (customerId: string) =>
        t.run(
          ClientCustomerDocument,
          { customerId },
          publishable(tenant, typeof token === 'function' ? token(customerId) : token),
        );
      const existing = await read('cus_alice');
      const ghost = await read('cus_ghost');
      expectInvalidToken(existing.body);
      expectInvalidToken(ghost.body);
      expect(ghost.body).toEqual(existing.body);
    }
  });
});

describe('client-side security NOT_ENFORCED (the default)', () => {
  let tenant: Tenant;
  let alice: SeededCustomer;
  let secret: string;
  beforeAll(async () => {
    tenant = await seedTenant(t);
    alice = await seedCustomer(tenant, 'cus_alice');
    await seedCustomer(tenant, 'cus_bob');
    secret = await signingSecretOf(tenant);
  });

  it('serves the publishable key without a token', async () => {
    expect((await t.run(SigningSecretDocument, { id: tenant.dev.id }, fullAccess(tenant))).body.data!.environment).toMatchObject({
      clientSideSecurity: 'NOT_ENFORCED',
    });
    const { body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant));
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ customer: clientView(alice) });
  });

  it('serves the publishable key with a valid token', async () => {
    for (const token of [
      platformToken('cus_alice', secret),
      createCustomerToken('cus_alice', secret, { expiresIn: 60, now: t.clock.now() }),
    ]) {
      const { body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, token));
      expect(body.errors).toBeUndefined();
      expect(body.data).toEqual({ customer: clientView(alice) });
    }
  });

  it('still checks a token that is sent: wrong secret, other customer, expired and malformed are INVALID_CUSTOMER_TOKEN', async () => {
    const expired = createCustomerToken('cus_alice', secret, {
      expiresIn: 60,
      now: new Date(t.clock.now().getTime() - 2 * MINUTE),
    });
    for (const token of [
      platformToken('cus_alice', 'f'.repeat(64)),
      platformToken('cus_bob', secret),
      expired,
      'garbage',
      `HMAC-SHA256 cus_alice:${'0'.repeat(63)}`,
    ]) {
      const { body } = await t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, token));
      expectInvalidToken(body, alice);
    }
  });
});

describe('rotateSigningSecret and customer tokens', () => {
  it('refuses tokens signed with the secret from before the rotation and accepts tokens signed with the new one', async () => {
    const tenant = await seedTenant(t);
    const alice = await seedCustomer(tenant, 'cus_alice');
    await setEnforced(tenant, true);
    const oldSecret = await signingSecretOf(tenant);
    const oldPlatform = platformToken('cus_alice', oldSecret);
    const oldExpiring = createCustomerToken('cus_alice', oldSecret, { expiresIn: '1h', now: t.clock.now() });
    const read = (token: string) => t.run(ClientCustomerDocument, { customerId: 'cus_alice' }, publishable(tenant, token));
    expect((await read(oldPlatform)).body.data).toEqual({ customer: clientView(alice) });
    expect((await read(oldExpiring)).body.data).toEqual({ customer: clientView(alice) });

    const rotated = await t.run(RotateSigningSecretDocument, { input: {} }, fullAccess(tenant));
    expect(rotated.body.errors).toBeUndefined();
    const newSecret = rotated.body.data!.rotateSigningSecret.environment.signingSecret!;
    expect(newSecret).not.toBe(oldSecret);
    expect(await signingSecretOf(tenant)).toBe(newSecret);

    expectInvalidToken((await read(oldPlatform)).body, alice);
    expectInvalidToken((await read(oldExpiring)).body, alice);
    const fresh = await read(platformToken('cus_alice', newSecret));
    expect(fresh.body.errors).toBeUndefined();
    expect(fresh.body.data).toEqual({ customer: clientView(alice) });
    const freshExpiring = await read(createCustomerToken('cus_alice', newSecret, { expiresIn: 300, now: t.clock.now() }));
    expect(freshExpiring.body.data).toEqual({ customer: clientView(alice) });
  });
});

describeSecurityMatrix('setClientSideSecurity', () => t, {
  permissions: ['environment:manage'],
  roles: ROLES_THAT.manage,
  targets: 'environment',
  allowedCredential: async (target) => ({ key: target.dev.fullAccessKey.secret }),
  call: (c, target) => t.run(SetClientSideSecurityDocument, { input: { environmentId: target.dev.id, enforced: true } }, c),
});

describeSecurityMatrix('rotateSigningSecret', () => t, {
  permissions: ['environment:manage'],
  roles: ROLES_THAT.manage,
  targets: 'environment',
  allowedCredential: async (target) => ({ key: target.dev.fullAccessKey.secret }),
  call: (c, target) => t.run(RotateSigningSecretDocument, { input: { environmentId: target.dev.id } }, c),
});

/** The matrix's target gets one customer, inserted directly so seeding never looks up a key. */
const matrixCustomers = new Map<string, Promise<void>>();
function ensureMatrixCustomer(target: Tenant): Promise<void> {
  let seeded = matrixCustomers.get(target.dev.id);
  if (!seeded) {
    const now = t.clock.now().toISOString();
    seeded = insertCustomer(t.keygate.deps.db, {
      id: newId('cus'),
      account_id: target.accountId,
      environment_id: target.dev.id,
      customer_id: 'cus_matrix',
      name: 'Matrix customer',
      email: 'matrix@personal.example',
      metadata: null,
      created_at: now,
      updated_at: now,
    });
    matrixCustomers.set(target.dev.id, seeded);
  }
  return seeded;
}

describeSecurityMatrix('customer', () => t, {
  permissions: ['customers:read'],
  roles: ROLES_THAT.read,
  targets: 'environment',
  call: async (c, target) => {
    await ensureMatrixCustomer(target);
    return t.query(
      `query($environmentId: ID, $customerId: String!) {
        customer(environmentId: $environmentId, customerId: $customerId) { id customerId name email createdAt }
      }`,
      { environmentId: target.dev.id, customerId: 'cus_matrix' },
      c,
    );
  },
});
