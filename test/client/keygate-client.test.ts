import { beforeAll, describe, expect, it } from 'vitest';
import {
  ApiKeysDocument,
  createCustomerToken,
  createKeygateClient,
  KeygateClientError,
  type KeygateCredential,
  RevealApiKeyDocument,
  ViewerDocument,
} from '../../src/client/index.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

const KEY_FORMAT = /^(server|client)-[0-9A-Za-z]{49}$/;

let t: TestKeygate;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
});

/** A client whose requests go straight to the in-process Keygate (no port). */
function clientFor(credential: KeygateCredential, extra: { customerToken?: string } = {}) {
  return createKeygateClient({
    url: 'http://keygate.test/graphql',
    ...credential,
    ...extra,
    // The client always passes its url as a string.
    fetch: async (input, init) => t.keygate.yoga.fetch(String(input), init ?? {}),
  });
}

/** The rejection of a promise that must fail with a KeygateClientError. */
async function clientError(promise: Promise<unknown>): Promise<KeygateClientError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeygateClientError);
  return error as KeygateClientError;
}

describe('createKeygateClient', () => {
  it('runs a typed document with an API key (X-API-Key) and returns its data', async () => {
    const client = clientFor({ apiKey: tenant.dev.fullAccessKey.secret });
    const { viewer } = await client.request(ViewerDocument);
    expect(viewer.kind).toBe('API_KEY');
    expect(viewer.apiKey?.id).toBe(tenant.dev.fullAccessKey.row.id);
    expect(viewer.environment?.id).toBe(tenant.dev.id);
  });

  it('authenticates with a session token and drives the key lifecycle through its typed methods', async () => {
    const owner = clientFor({ sessionToken: tenant.owner.token });
    expect((await owner.viewer()).user?.email).toBe(tenant.owner.email);

    const created = await owner.createScopedKey({ environmentId: tenant.dev.id, name: 'SDK key', scopes: ['customers:write'] });
    expect(created.secret).toMatch(KEY_FORMAT);
    expect(created.apiKey.scopes).toEqual(['customers:read', 'customers:write']);

    const scoped = await owner.apiKeys({ environmentId: tenant.dev.id, filter: { categories: ['SCOPED'] } });
    expect(scoped.edges.map((e) => e.node.id)).toEqual([created.apiKey.id]);

    expect(await owner.revealApiKey(created.apiKey.id)).toBe(created.secret);

    const rotated = await owner.rotateApiKey({ id: created.apiKey.id, expireOldKeyIn: 'ONE_HOUR' });
    expect(rotated.previousKey.id).toBe(created.apiKey.id);
    expect(rotated.previousKey.status).toBe('EXPIRING_SOON');
    expect(rotated.apiKey.name).toBe('SDK key');

    const detail = await owner.apiKey({ id: created.apiKey.id });
    expect(detail?.rotatedTo?.id).toBe(rotated.apiKey.id);
    expect(detail?.auditLog.edges.map((e) => e.node.event)).toEqual(['KEY_ROTATED', 'KEY_REVEALED', 'KEY_CREATED']);
  });

  it('throws a KeygateClientError with the code of each error (PLAN_UPGRADE_REQUIRED on the FREE plan)', async () => {
    const free = await seedTenant(t, { plan: 'FREE' });
    const owner = clientFor({ sessionToken: free.owner.token });
    const error = await clientError(
      owner.createScopedKey({ environmentId: free.dev.id, name: 'Nope', scopes: ['customers:read'] }),
    );
    expect(error.code).toBe('PLAN_UPGRADE_REQUIRED');
    expect(error.codes).toEqual(['PLAN_UPGRADE_REQUIRED']);
    expect(error.errors[0]!.path).toEqual(['createScopedKey']);
    expect(error.data).toBeNull();
  });

  it('gives the partial data of a field-level FORBIDDEN: a member reads the masked key, not the secret', async () => {
    const member = await tenant.user('MEMBER');
    const client = clientFor({ sessionToken: member.token });
    const keyId = tenant.dev.fullAccessKey.row.id;

    const error = await clientError(client.revealApiKey(keyId));
    expect(error.codes).toEqual(['FORBIDDEN']);
    expect(error.errors[0]!.path).toEqual(['apiKey', 'secret']);
    const partial = error.data as { apiKey: { id: string; maskedKey: string; secret: string | null } };
    expect(partial.apiKey).toMatchObject({ id: keyId, secret: null });
    expect(partial.apiKey.maskedKey).toMatch(/^server-•+/);

    // `execute` reports the same outcome without throwing.
    const result = await client.execute(RevealApiKeyDocument, { id: keyId });
    expect(result.data?.apiKey?.id).toBe(keyId);
    expect(result.data?.apiKey?.secret).toBeNull();
    expect(result.errors.map((e) => e.code)).toEqual(['FORBIDDEN']);
  });

  it('reports UNAUTHENTICATED with HTTP 401 for a session token that does not verify', async () => {
    const client = clientFor({ sessionToken: `${tenant.owner.token}x` });
    const error = await clientError(client.request(ApiKeysDocument, { environmentId: tenant.dev.id }));
    expect(error.status).toBe(401);
    expect(error.code).toBe('UNAUTHENTICATED');
  });

  it('sends the customer token next to the publishable key when client-side security is enforced', async () => {
    const server = clientFor({ apiKey: tenant.dev.fullAccessKey.secret });
    await server.createCustomer({ customerId: 'sdk-cus-1', name: 'Ada' });
    await server.setClientSideSecurity({ enforced: true });
    const signingSecret = (await server.signingSecret({ id: tenant.dev.id }))?.signingSecret;
    expect(signingSecret).toBeTruthy();

    const withoutToken = clientFor({ apiKey: tenant.dev.publishableKey.secret });
    expect((await clientError(withoutToken.clientCustomer({ customerId: 'sdk-cus-1' }))).code).toBe('INVALID_CUSTOMER_TOKEN');

    const withToken = clientFor(
      { apiKey: tenant.dev.publishableKey.secret },
      { customerToken: createCustomerToken('sdk-cus-1', signingSecret!) },
    );
    expect(await withToken.clientCustomer({ customerId: 'sdk-cus-1' })).toMatchObject({ customerId: 'sdk-cus-1', name: 'Ada' });
  });

  it('turns a response that is not GraphQL into a KeygateClientError carrying the HTTP status', async () => {
    const client = createKeygateClient({
      url: 'http://keygate.test/graphql',
      apiKey: tenant.dev.fullAccessKey.secret,
      fetch: async () => new Response('<html>Bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }),
    });
    const error = await clientError(client.viewer());
    expect(error.status).toBe(502);
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain('HTTP 502');
  });
});
