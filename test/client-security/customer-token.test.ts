import { createHmac } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CUSTOMER_TOKEN_FORMS,
  createCustomerToken,
  MAX_CUSTOMER_TOKEN_LENGTH,
  verifyCustomerToken,
} from '../../src/client/customer-token.js';
import {
  ClientCustomerDocument,
  SetClientSideSecurityDocument,
  SigningSecretDocument,
} from '../../src/client/generated/graphql.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

const secret = `${'a'.repeat(16)}signing-secret-under-test`;
const otherSecret = `${'b'.repeat(16)}signing-secret-under-test`;
const now = new Date('2026-06-01T12:00:00.000Z');
const nowSeconds = now.getTime() / 1000;

/** What the platform's published helper computes: HMAC-SHA256(secret, customerId), hex. */
const platformMac = (customerId: string, key = secret) => createHmac('sha256', key).update(customerId).digest('hex');

/** Splits an expiring token into its parts (customer ids may contain ':'). */
function expiringParts(token: string) {
  const [form, body] = [token.slice(0, token.indexOf(' ')), token.slice(token.indexOf(' ') + 1)];
  const hex = body.slice(body.lastIndexOf(':') + 1);
  const signed = body.slice(0, body.lastIndexOf(':'));
  return {
    form,
    customerId: signed.slice(0, signed.lastIndexOf(':')),
    expiresAt: Number(signed.slice(signed.lastIndexOf(':') + 1)),
    hex,
  };
}

describe('platform form', () => {
  it("is exactly what the platform's published helper makes", () => {
    const token = createCustomerToken('cus_alice', secret);
    expect(token).toBe(`HMAC-SHA256 cus_alice:${platformMac('cus_alice')}`);
    expect(CUSTOMER_TOKEN_FORMS.platform).toBe('HMAC-SHA256');
  });

  it('verifies a token made by the platform helper, without expiry, whatever the time', () => {
    const token = `HMAC-SHA256 cus_alice:${platformMac('cus_alice')}`;
    expect(verifyCustomerToken(token, secret, now)).toEqual({ ok: true, customerId: 'cus_alice', expiresAt: null });
    expect(verifyCustomerToken(token, secret, new Date('2099-01-01T00:00:00Z'))).toEqual({
      ok: true,
      customerId: 'cus_alice',
      expiresAt: null,
    });
  });

  it('breaks when the customer id is changed', () => {
    const token = createCustomerToken('cus_alice', secret);
    const forged = token.replace('cus_alice', 'cus_bob');
    expect(forged).toBe(`HMAC-SHA256 cus_bob:${platformMac('cus_alice')}`);
    expect(verifyCustomerToken(forged, secret, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('is bad_signature under another secret', () => {
    const token = createCustomerToken('cus_alice', secret);
    expect(verifyCustomerToken(token, otherSecret, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('expiring form', () => {
  it('signs the customer id and the expiry (Unix seconds), domain-separated from the platform form', () => {
    const token = createCustomerToken('cus_alice', secret, { expiresIn: 900, now });
    const expiresAt = nowSeconds + 900;
    const mac = createHmac('sha256', secret).update(`keygate-customer-token-v1\ncus_alice\n${expiresAt}`).digest('hex');
    expect(token).toBe(`HMAC-SHA256-EXP cus_alice:${expiresAt}:${mac}`);
    expect(CUSTOMER_TOKEN_FORMS.expiring).toBe('HMAC-SHA256-EXP');
  });

  it('takes expiresIn as seconds or as a duration like 15m, with the same result', () => {
    const bySeconds = createCustomerToken('cus_alice', secret, { expiresIn: 900, now });
    const byDuration = createCustomerToken('cus_alice', secret, { expiresIn: '15m', now });
    expect(byDuration).toBe(bySeconds);
    expect(expiringParts(bySeconds).expiresAt).toBe(nowSeconds + 900);
    expect(expiringParts(createCustomerToken('cus_alice', secret, { expiresIn: '2h', now })).expiresAt).toBe(nowSeconds + 7200);
    expect(expiringParts(createCustomerToken('cus_alice', secret, { expiresIn: '1d', now })).expiresAt).toBe(nowSeconds + 86400);
  });

  it('refuses an expiresIn that is not a positive whole number of seconds', () => {
    for (const expiresIn of [0, -5, 1.5, '15x', 'soon', '', '-1m']) {
      expect(() => createCustomerToken('cus_alice', secret, { expiresIn, now }), String(expiresIn)).toThrow();
    }
  });

  it('verifies until the expiry and is expired at exactly the expiry instant', () => {
    const token = createCustomerToken('cus_alice', secret, { expiresIn: '15m', now });
    const expiry = new Date(now.getTime() + 15 * 60_000);
    expect(verifyCustomerToken(token, secret, now)).toEqual({ ok: true, customerId: 'cus_alice', expiresAt: expiry });
    expect(verifyCustomerToken(token, secret, new Date(expiry.getTime() - 1))).toEqual({
      ok: true,
      customerId: 'cus_alice',
      expiresAt: expiry,
    });
    expect(verifyCustomerToken(token, secret, expiry)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyCustomerToken(token, secret, new Date(expiry.getTime() + 60_000))).toEqual({ ok: false, reason: 'expired' });
  });

  it('keeps the expiry inside the MAC: extending it breaks the token', () => {
    const token = createCustomerToken('cus_alice', secret, { expiresIn: 60, now });
    const { customerId, expiresAt, hex } = expiringParts(token);
    const extended = `HMAC-SHA256-EXP ${customerId}:${expiresAt + 3600}:${hex}`;
    expect(verifyCustomerToken(extended, secret, now)).toEqual({ ok: false, reason: 'bad_signature' });
    // Even once the real expiry has passed, the forged one does not verify.
    expect(verifyCustomerToken(extended, secret, new Date((expiresAt + 10) * 1000))).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('keeps the customer id inside the MAC: changing it breaks the token', () => {
    const token = createCustomerToken('cus_alice', secret, { expiresIn: 60, now });
    const { expiresAt, hex } = expiringParts(token);
    expect(verifyCustomerToken(`HMAC-SHA256-EXP cus_bob:${expiresAt}:${hex}`, secret, now)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('is bad_signature under another secret', () => {
    const token = createCustomerToken('cus_alice', secret, { expiresIn: 60, now });
    expect(verifyCustomerToken(token, otherSecret, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe("customer ids containing ':'", () => {
  for (const customerId of ['org:42:user:7', 'a:', ':b', 'x::y', 'user@example.com:eu']) {
    it(`round-trips ${JSON.stringify(customerId)} in both forms`, () => {
      const platform = createCustomerToken(customerId, secret);
      expect(platform).toBe(`HMAC-SHA256 ${customerId}:${platformMac(customerId)}`);
      expect(verifyCustomerToken(platform, secret, now)).toEqual({ ok: true, customerId, expiresAt: null });
      const expiring = createCustomerToken(customerId, secret, { expiresIn: 60, now });
      expect(verifyCustomerToken(expiring, secret, now)).toEqual({
        ok: true,
        customerId,
        expiresAt: new Date((nowSeconds + 60) * 1000),
      });
    });
  }
});

describe('the two forms cannot be turned into each other', () => {
  it('a platform token for "<id>:<time>" relabelled as expiring does not verify for <id>', () => {
    // Without domain separation, HMAC(secret, "cus_alice:1900000000") would be a valid
    // expiring MAC for cus_alice until 2030.
    const far = 1_900_000_000;
    const platform = createCustomerToken(`cus_alice:${far}`, secret);
    expect(verifyCustomerToken(platform, secret, now)).toMatchObject({ ok: true, customerId: `cus_alice:${far}` });
    const relabelled = platform.replace(/^HMAC-SHA256 /, 'HMAC-SHA256-EXP ');
    expect(relabelled).toBe(`HMAC-SHA256-EXP cus_alice:${far}:${platformMac(`cus_alice:${far}`)}`);
    expect(verifyCustomerToken(relabelled, secret, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('an expiring token relabelled as platform does not verify (for any customer id)', () => {
    const expiring = createCustomerToken('cus_alice', secret, { expiresIn: 60, now });
    const relabelled = expiring.replace(/^HMAC-SHA256-EXP /, 'HMAC-SHA256 ');
    expect(relabelled.startsWith('HMAC-SHA256 cus_alice:')).toBe(true);
    expect(verifyCustomerToken(relabelled, secret, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('malformed tokens', () => {
  const mac = platformMac('cus_alice');
  const valid = `HMAC-SHA256 cus_alice:${mac}`;
  const validExpiring = createCustomerToken('cus_alice', secret, { expiresIn: 60, now });
  const cases: Record<string, string> = {
    empty: '',
    'no space': `HMAC-SHA256cus_alice:${mac}`,
    'no colon': `HMAC-SHA256 cus_alice${mac}`,
    'unknown form': `HMAC-SHA512 cus_alice:${mac}`,
    'lower-case form': `hmac-sha256 cus_alice:${mac}`,
    'MAC too short': `HMAC-SHA256 cus_alice:${mac.slice(0, 63)}`,
    'MAC too long': `HMAC-SHA256 cus_alice:${mac}0`,
    'upper-case MAC': `HMAC-SHA256 cus_alice:${mac.toUpperCase()}`,
    'non-hex MAC': `HMAC-SHA256 cus_alice:${mac.slice(0, 63)}g`,
    'empty customer id': `HMAC-SHA256 :${platformMac('')}`,
    'expiring, empty customer id': `HMAC-SHA256-EXP :${nowSeconds + 60}:${mac}`,
    'expiring, no expiry': `HMAC-SHA256-EXP cus_alice:${mac}`,
    'expiring, non-numeric expiry': `HMAC-SHA256-EXP cus_alice:soon:${mac}`,
    'expiring, negative expiry': `HMAC-SHA256-EXP cus_alice:-1:${mac}`,
  };
  for (const [name, token] of Object.entries(cases)) {
    it(`${name} is malformed`, () => {
      expect(verifyCustomerToken(token, secret, now)).toEqual({ ok: false, reason: 'malformed' });
    });
  }

  it('the well-formed twins of those cases do verify (the cases fail for their defect alone)', () => {
    expect(verifyCustomerToken(valid, secret, now)).toMatchObject({ ok: true, customerId: 'cus_alice' });
    expect(verifyCustomerToken(validExpiring, secret, now)).toMatchObject({ ok: true, customerId: 'cus_alice' });
    expect(verifyCustomerToken(validExpiring.replace('cus_alice', 'cus_bob'), secret, now)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it(`a correctly signed token longer than ${MAX_CUSTOMER_TOKEN_LENGTH} characters is malformed; at the limit it verifies`, () => {
    expect(MAX_CUSTOMER_TOKEN_LENGTH).toBe(1024);
    const overhead = 'HMAC-SHA256 '.length + 1 + 64;
    const atLimit = 'c'.repeat(1024 - overhead);
    const tokenAtLimit = createCustomerToken(atLimit, secret);
    expect(tokenAtLimit).toHaveLength(1024);
    expect(verifyCustomerToken(tokenAtLimit, secret, now)).toEqual({ ok: true, customerId: atLimit, expiresAt: null });
    const overLimit = createCustomerToken(`${atLimit}c`, secret);
    expect(overLimit).toHaveLength(1025);
    expect(verifyCustomerToken(overLimit, secret, now)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyCustomerToken(`HMAC-SHA256 ${'x'.repeat(100_000)}:${mac}`, secret, now)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });
});

describe('over HTTP: X-Customer-Token and X-Customer-Key (the platform browser SDK sends the latter)', () => {
  let t: TestKeygate;
  let tenant: Tenant;
  let signingSecret = '';
  let url = '';
  const CUSTOMER = 'cus_sdk';
  const read = (headers: Record<string, string>) =>
    t.run(
      ClientCustomerDocument,
      { customerId: CUSTOMER },
      { headers: { 'x-api-key': tenant.dev.publishableKey.secret, ...headers } },
    );
  const setEnforced = async (enforced: boolean) => {
    const { body } = await t.run(
      SetClientSideSecurityDocument,
      { input: { enforced } },
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(body.errors).toBeUndefined();
  };
  const expectCustomer = (body: ExecutionResult<{ customer: { customerId: string } | null }>) => {
    expect(body.errors).toBeUndefined();
    expect(body.data?.customer?.customerId).toBe(CUSTOMER);
  };
  const expectRefused = (body: ExecutionResult<{ customer: unknown }>) => {
    expect(body.data).toEqual({ customer: null });
    expect(codes(body)).toEqual(['INVALID_CUSTOMER_TOKEN']);
  };

  beforeAll(async () => {
    t = await startTestKeygate();
    tenant = await seedTenant(t);
    const created = await t.query(
      `mutation { createCustomer(input: { customerId: "${CUSTOMER}", name: "SDK" }) { customer { id } } }`,
      {},
      {
        key: tenant.dev.fullAccessKey.secret,
      },
    );
    expect(created.body.errors).toBeUndefined();
    const secret = await t.run(SigningSecretDocument, { id: tenant.dev.id }, { key: tenant.dev.fullAccessKey.secret });
    signingSecret = secret.body.data!.environment!.signingSecret!;
    await setEnforced(true);
    const server = createServer(t.keygate.yoga);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  });

  it('accepts a valid token in X-Customer-Key exactly as in X-Customer-Token', async () => {
    const token = createCustomerToken(CUSTOMER, signingSecret);
    expectCustomer((await read({ 'x-customer-key': token })).body);
    expectCustomer((await read({ 'x-customer-token': token })).body);
    // The same token in both headers is one token.
    expectCustomer((await read({ 'x-customer-key': token, 'x-customer-token': token })).body);
    expectRefused((await read({})).body);
  });

  it('applies the same rules to X-Customer-Key: another customer, a bad signature, an expired token are refused', async () => {
    const other = createCustomerToken('cus_other', signingSecret);
    const forged = createCustomerToken(CUSTOMER, `${signingSecret}x`);
    const expired = createCustomerToken(CUSTOMER, signingSecret, {
      expiresIn: 60,
      now: new Date(t.clock.now().getTime() - 120_000),
    });
    for (const token of [other, forged, expired, 'garbage']) expectRefused((await read({ 'x-customer-key': token })).body);
  });

  it('refuses two different tokens (one in each header), in either role, enforced or not', async () => {
    const good = createCustomerToken(CUSTOMER, signingSecret);
    const other = createCustomerToken(CUSTOMER, signingSecret, { expiresIn: '15m', now: t.clock.now() });
    expectCustomer((await read({ 'x-customer-key': other })).body);
    for (const enforced of [true, false]) {
      await setEnforced(enforced);
      for (const [a, b] of [
        [good, other],
        [other, good],
      ]) {
        const { body } = await read({ 'x-customer-token': a!, 'x-customer-key': b! });
        expectRefused(body);
        expect(body.errors![0]!.message).toMatch(/two different customer tokens/i);
      }
    }
    await setEnforced(true);
  });

  it('refuses two different X-Customer-Token lines over a real socket; the same line repeated is one token', async () => {
    const good = createCustomerToken(CUSTOMER, signingSecret);
    const other = createCustomerToken(CUSTOMER, signingSecret, { expiresIn: '15m', now: t.clock.now() });
    const send = (lines: [string, string][]) =>
      new Promise<ExecutionResult<{ customer: { customerId: string } | null }>>((resolve, reject) => {
        const all = [
          ['host', new URL(url).host],
          ['content-type', 'application/json'],
          ['x-api-key', tenant.dev.publishableKey.secret],
          ...lines,
        ];
        const req = request(url, { method: 'POST', headers: all.flat() }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve(JSON.parse(text)));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ query: `{ customer(customerId: "${CUSTOMER}") { customerId } }` }));
      });
    expectRefused(
      await send([
        ['x-customer-token', good],
        ['x-customer-token', other],
      ]),
    );
    expectRefused(
      await send([
        ['x-customer-key', other],
        ['X-Customer-Key', good],
      ]),
    );
    expectCustomer(
      await send([
        ['x-customer-token', good],
        ['x-customer-token', good],
      ]),
    );
    expectCustomer(
      await send([
        ['x-customer-key', good],
        ['x-customer-token', good],
      ]),
    );
  });
});
