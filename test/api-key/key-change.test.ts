import { beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../src/client/generated/graphql.js';
import { changeKeys } from '../../src/modules/api-key/api-key.change.js';
import { findKeysByIds } from '../../src/modules/api-key/api-key.repository.js';
import { SYSTEM_ACTOR } from '../../src/modules/audit/actor.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { rememberSecrets } from '../harness/leak-scan.js';

let t: TestKeygate;
let tenant: Tenant;
beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
});

const viewer = (secret: string) => t.run(ViewerDocument, {}, { key: secret });

const eventsOf = async (keyId: string) =>
  (
    await t.keygate.deps.db.selectFrom('key_audit_events').select('event').where('key_id', '=', keyId).orderBy('id').execute()
  ).map((e) => e.event);

/** Revokes a key through the unit alone: no invalidation, no loader, nothing a service would add. */
const revokeThroughUnit = (keyId: string, after?: () => void) =>
  changeKeys(t.keygate.deps, async (keys) => {
    const key = await keys.lock(keyId);
    const at = t.clock.now();
    await keys.apply(key!, { revokedAt: at.toISOString() }, { event: 'KEY_REVOKED', actor: SYSTEM_ACTOR, at });
    after?.();
  });

describe('the key-change unit (changeKeys)', () => {
  it('refuses a cached key on this instance from the next request once its change commits, without the caller invalidating', async () => {
    const key = await tenant.scopedKey(['coupons:read']);
    expect((await viewer(key.secret)).status).toBe(200); // now in the verification cache
    await revokeThroughUnit(key.row.id);
    expect((await viewer(key.secret)).status).toBe(401);
    expect(await eventsOf(key.row.id)).toEqual(['KEY_CREATED', 'KEY_REVOKED']);
  });

  it('leaves the key and its audit log as they were when the change fails before commit', async () => {
    const key = await tenant.scopedKey(['coupons:read']);
    expect((await viewer(key.secret)).status).toBe(200);
    const failing = revokeThroughUnit(key.row.id, () => {
      throw new Error('a later check failed');
    });
    await expect(failing).rejects.toThrow('a later check failed');
    expect((await viewer(key.secret)).status).toBe(200);
    expect(await eventsOf(key.row.id)).toEqual(['KEY_CREATED']);
  });

  it('returns the keys it writes as stored, the scope parsed', async () => {
    const { issued, changed } = await changeKeys(t.keygate.deps, async (keys) => {
      const at = t.clock.now();
      const issued = await keys.issue({
        accountId: tenant.accountId,
        environmentId: tenant.dev.id,
        type: 'SCOPED',
        name: 'Stored as returned',
        description: null,
        scopes: ['coupons:read'],
        actor: SYSTEM_ACTOR,
        now: at,
      });
      const changed = await keys.apply(
        issued.row,
        { scopes: ['coupons:read', 'customers:read'], description: 'now two' },
        { event: 'SCOPE_UPDATED', actor: SYSTEM_ACTOR, at },
      );
      return { issued, changed };
    });
    rememberSecrets(issued.secret);
    expect(issued.row.scopes).toEqual(['coupons:read']);
    expect(changed).toMatchObject({ id: issued.row.id, scopes: ['coupons:read', 'customers:read'], description: 'now two' });
    expect(await findKeysByIds(t.keygate.deps.db, [issued.row.id])).toEqual([changed]);
  });
});
