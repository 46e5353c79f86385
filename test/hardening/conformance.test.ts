import { serverAudits } from 'graphql-http';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, startTestKeygate, type TestKeygate } from '../harness/keygate.js';

/**
 * GraphQL-over-HTTP conformance: every audit of graphql-http's serverAudits
 * must be `ok` against Keygate (through yoga.fetch, with a valid key header).
 */
const t: TestKeygate = await startTestKeygate();
let key = '';
beforeAll(async () => {
  key = (await seedTenant(t)).dev.fullAccessKey.secret;
});

const fetchFn = (input: RequestInfo | URL, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  headers.set('x-api-key', key);
  return Promise.resolve(t.keygate.yoga.fetch(String(input instanceof Request ? input.url : input), { ...init, headers }));
};

const audits = serverAudits({ url: 'http://keygate.test/graphql', fetchFn });

describe('graphql-http serverAudits', () => {
  it('has audits to run', () => {
    expect(audits.length).toBeGreaterThan(10);
  });

  for (const audit of audits) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status !== 'ok') {
        const response = 'response' in result ? result.response : undefined;
        const detail = response
          ? `${response.status} ${JSON.stringify(Object.fromEntries(response.headers))} ${await response.clone().text()}`
          : '';
        expect.fail(`${result.status}: ${'reason' in result ? result.reason : ''} ${detail}`);
      }
      expect(result.status).toBe('ok');
    });
  }
});
