import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CreateScopedKeyDocument,
  RevealApiKeyDocument,
  RotateApiKeyDocument,
  UpdateApiKeyScopesDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

// The oracle is written out here, independently of the permission model it checks.
const CATALOGUE = [
  'customers:read',
  'customers:write',
  'subscriptions:read',
  'subscriptions:write',
  'coupons:read',
  'coupons:write',
  'api_keys:read',
  'api_keys:write',
  'activity:read',
  'event_queue:read',
];
const withImplied = (scopes: string[]) =>
  new Set(scopes.flatMap((p) => (p.endsWith(':write') ? [p, p.replace(':write', ':read')] : [p])));
const within = (inner: string[], outer: string[]) => {
  const held = withImplied(outer);
  return [...withImplied(inner)].every((p) => held.has(p));
};

const scopeArb = fc.subarray(CATALOGUE, { minLength: 1 });

let t: TestKeygate;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
});

describe('no escalation (property)', () => {
  it('a key creates, rotates, re-scopes and reveals only credentials within its own scope', async () => {
    await fc.assert(
      fc.asyncProperty(scopeArb, scopeArb, scopeArb, async (callerScopes, targetScopes, newScopes) => {
        const caller = await tenant.scopedKey(callerScopes);
        const as = { key: caller.secret };
        const canWrite = withImplied(callerScopes).has('api_keys:write');
        const mayTouchTarget = canWrite && within(targetScopes, callerScopes);

        const created = await t.run(CreateScopedKeyDocument, { input: { name: 'p', scopes: targetScopes } }, as);
        expect(created.body.errors ? codes(created.body) : 'OK').toEqual(mayTouchTarget ? 'OK' : ['FORBIDDEN']);
        if (!created.body.errors) {
          const minted = await t.run(ViewerDocument, {}, { key: created.body.data!.createScopedKey.secret });
          expect(within(minted.body.data!.viewer.permissions, callerScopes)).toBe(true);
        }

        const target = await tenant.scopedKey(targetScopes);
        const revealed = await t.run(RevealApiKeyDocument, { id: target.row.id }, as);
        // Without api_keys:read the key itself is out of reach (null), which reveals nothing either.
        expect(revealed.body.data?.apiKey?.secret ?? null).toBe(mayTouchTarget ? target.secret : null);

        const rescoped = await t.run(UpdateApiKeyScopesDocument, { input: { id: target.row.id, scopes: newScopes } }, as);
        const mayRescope = mayTouchTarget && within(newScopes, callerScopes);
        expect(rescoped.body.errors ? codes(rescoped.body) : 'OK').toEqual(mayRescope ? 'OK' : ['FORBIDDEN']);

        const current = mayRescope ? newScopes : targetScopes;
        const rotated = await t.run(RotateApiKeyDocument, { input: { id: target.row.id, expireOldKeyIn: 'NOW' } }, as);
        const mayRotate = canWrite && within(current, callerScopes);
        expect(rotated.body.errors ? codes(rotated.body) : 'OK').toEqual(mayRotate ? 'OK' : ['FORBIDDEN']);
      }),
      { numRuns: 60, seed: Number(process.env.PROPERTY_SEED ?? Date.now() % 2 ** 31) },
    );
  });
});
