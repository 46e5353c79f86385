import { beforeAll, describe, expect, it } from 'vitest';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

describe('root operation types', () => {
  let t: TestKeygate;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await startTestKeygate();
    tenant = await seedTenant(t);
  });

  it('introspection reports a query and a mutation root and no subscription root', async () => {
    const { status, body } = await t.query(
      '{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }',
      {},
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(status).toBe(200);
    expect(body.data?.__schema).toEqual({
      queryType: { name: 'Query' },
      mutationType: { name: 'Mutation' },
      subscriptionType: null,
    });
  });

  it('keeps the billing Subscription an ordinary object type', async () => {
    const { body } = await t.query(
      '{ __type(name: "Subscription") { kind fields { name } } }',
      {},
      { key: tenant.dev.fullAccessKey.secret },
    );
    expect(body.data?.__type.kind).toBe('OBJECT');
    expect(body.data?.__type.fields.map((f: { name: string }) => f.name)).toContain('planId');
  });

  it('refuses a subscription operation at validation (BAD_USER_INPUT), not during execution', async () => {
    const { body } = await t.query('subscription { id }', {}, { key: tenant.dev.fullAccessKey.secret });
    expect(codes(body)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors?.[0]?.message).toMatch(/subscription/i);
  });
});
