import type { ExecutionResult } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../src/modules/account/account.table.js';
import { digestKey, generateKeySecret } from '../../src/modules/api-key/api-key.secret.js';
import { type Credential, codes, seedTenant, setKeyColumns, type Tenant, type TestKeygate } from './keygate.js';

export interface SecuredOperation {
  /**
   * Runs the operation against objects of `target` (its Development
   * environment) with `credential`. `data` must be non-null on success.
   */
  call(credential: Credential, target: Tenant): Promise<{ status: number; body: ExecutionResult<any> }>;
  /** Permissions a scoped key needs; omit for "any authenticated caller". */
  permissions?: string[];
  /**
   * What the operation names: an object of the target's environment (ids
   * from another environment or account answer NOT_FOUND), the target's
   * account (ids from another account answer NOT_FOUND), or nothing.
   */
  targets: 'environment' | 'account' | 'none';
  /**
   * The user roles of the target account that may call it (SPEC §4): a session
   * of each succeeds, a session of every other role is FORBIDDEN.
   */
  roles: readonly Role[];
  /** The allowed twin's credential, instead of a scoped key with exactly `permissions` (e.g. owner-only operations). */
  allowedCredential?: (target: Tenant) => Promise<Credential>;
}

/** The roles SPEC §4 gives: every role reads; owners and members write resources; only owners manage. */
export const ROLES_THAT = {
  read: ROLES,
  writeResources: ['OWNER', 'MEMBER'],
  manage: ['OWNER'],
} as const satisfies Record<string, readonly Role[]>;

/**
 * The shared security matrix (STYLE §6): no credential, malformed key, unknown
 * key, expired key, revoked key, bad session token, missing permission, each
 * user role of the account, other environment and other account (its keys and
 * every role of its users), each with its expected code, plus the allowed twin.
 */
export function describeSecurityMatrix(name: string, getT: () => TestKeygate, op: SecuredOperation): void {
  describe(`security matrix: ${name}`, () => {
    let t: TestKeygate;
    let target: Tenant;
    let other: Tenant;
    const sessions = new Map<Tenant, Map<Role, Credential>>();
    /** A session of a user holding `role` in `tenant` (the bootstrap owner for OWNER, so it is the account's creator). */
    const sessionOf = (tenant: Tenant, role: Role): Credential => sessions.get(tenant)!.get(role)!;
    beforeAll(async () => {
      t = getT();
      target = await seedTenant(t);
      other = await seedTenant(t);
      for (const tenant of [target, other]) {
        const byRole = new Map<Role, Credential>([['OWNER', { token: tenant.owner.token }]]);
        for (const role of ROLES) if (role !== 'OWNER') byRole.set(role, { token: (await tenant.user(role)).token });
        sessions.set(tenant, byRole);
      }
    });

    const expectUnauthenticated = async (credential: Credential) => {
      const { status, body } = await op.call(credential, target);
      expect(status, JSON.stringify(credential)).toBe(401);
      expect(codes(body)).toEqual(['UNAUTHENTICATED']);
      expect(body.data ?? null).toBeNull();
    };

    it('rejects a request without a credential (401 UNAUTHENTICATED)', () => expectUnauthenticated(null));
    it('rejects a malformed key before any database read', async () => {
      const secret = target.dev.fullAccessKey.secret;
      const malformed = ['server-not-a-real-key', `${secret.slice(0, -1)}${secret.endsWith('x') ? 'y' : 'x'}`];
      const unknown = generateKeySecret('server-');
      const looked: string[] = [];
      const stop = t.keygate.deps.database.observe((_sql, parameters) => {
        for (const p of parameters) if (typeof p === 'string') looked.push(p);
      });
      try {
        for (const key of malformed) await expectUnauthenticated({ key });
        await expectUnauthenticated({ key: unknown });
      } finally {
        stop();
      }
      for (const key of malformed) expect(looked).not.toContain(digestKey(key));
      // The observer does see lookups: the well-formed unknown key was looked up by its digest.
      expect(looked).toContain(digestKey(unknown));
    });
    it('rejects a well-formed but unknown key', () => expectUnauthenticated({ key: generateKeySecret('server-') }));
    // A key that would be allowed if it were valid (or the closest a scoped key can come).
    const validLookingKey = () => {
      const assignable = (op.permissions ?? []).filter((p) => t.keygate.deps.gateway.catalogue.has(p));
      return target.scopedKey(assignable.length ? assignable : ['customers:read']);
    };

    it('rejects an expired key', async () => {
      const key = await validLookingKey();
      await setKeyColumns(t, key.row.id, { expires_at: new Date(t.clock.now().getTime() - 1000).toISOString() });
      await expectUnauthenticated({ key: key.secret });
    });
    it('rejects a revoked key', async () => {
      const key = await validLookingKey();
      await setKeyColumns(t, key.row.id, { revoked_at: t.clock.now().toISOString() });
      await expectUnauthenticated({ key: key.secret });
    });
    it('rejects a session token that does not verify', () => {
      const [header, payload, signature] = target.owner.token.split('.') as [string, string, string];
      const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
      return expectUnauthenticated({ token: `${header}.${payload}.${flipped}` });
    });

    if (op.permissions?.length) {
      const permissions = op.permissions;
      it(`denies a key without ${permissions.join(', ')} (FORBIDDEN naming it)`, async () => {
        const unrelated = permissions.includes('event_queue:read') ? 'activity:read' : 'event_queue:read';
        const key = await target.scopedKey([unrelated]);
        const { body } = await op.call({ key: key.secret }, target);
        expect(codes(body)).toContain('FORBIDDEN');
        const message = body.errors?.find((e) => e.extensions?.code === 'FORBIDDEN')?.message ?? '';
        expect(permissions.some((p) => message.includes(p))).toBe(true);
      });
    }

    it('allows a caller that holds what the operation needs', async () => {
      const credential = op.allowedCredential
        ? await op.allowedCredential(target)
        : { key: (await target.scopedKey(op.permissions?.length ? op.permissions : ['event_queue:read'])).secret };
      const { status, body } = await op.call(credential, target);
      expect(body.errors ?? []).toEqual([]);
      expect(status).toBe(200);
      expect(body.data).not.toBeNull();
    });

    for (const role of ROLES) {
      if (op.roles.includes(role)) {
        it(`allows a ${role} user of the account`, async () => {
          const { status, body } = await op.call(sessionOf(target, role), target);
          expect(body.errors ?? []).toEqual([]);
          expect(status).toBe(200);
          expect(body.data).not.toBeNull();
        });
      } else {
        it(`denies a ${role} user of the account (FORBIDDEN, no data)`, async () => {
          const { status, body } = await op.call(sessionOf(target, role), target);
          expect(status).toBe(200);
          expect(codes(body)).toContain('FORBIDDEN');
          expect(codes(body)).not.toContain('NOT_FOUND');
          for (const [field, value] of Object.entries(body.data ?? {})) expect(value, field).toBeNull();
          const message = body.errors?.find((e) => e.extensions?.code === 'FORBIDDEN')?.message ?? '';
          if (op.permissions?.length)
            expect(
              op.permissions.some((p) => message.includes(p)),
              message,
            ).toBe(true);
        });
      }
    }

    if (op.targets === 'environment') {
      it('answers NOT_FOUND to a key of another environment of the same account', async () => {
        const { body } = await op.call({ key: target.prod.fullAccessKey.secret }, target);
        expect(codes(body)).toContain('NOT_FOUND');
      });
    }
    if (op.targets !== 'none') {
      it('answers NOT_FOUND to another account, never FORBIDDEN', async () => {
        // The other tenant's most powerful credentials, which would succeed on their own objects.
        const strongest = op.allowedCredential ? await op.allowedCredential(other) : { key: other.dev.fullAccessKey.secret };
        const callers: [string, Credential][] = [
          ['its strongest credential', strongest],
          ...op.roles.map((role): [string, Credential] => [`its ${role} user`, sessionOf(other, role)]),
        ];
        for (const [caller, credential] of callers) {
          const { body } = await op.call(credential, target);
          expect(codes(body), caller).toContain('NOT_FOUND');
          expect(codes(body), caller).not.toContain('FORBIDDEN');
        }
      });
      const deniedRoles = ROLES.filter((role) => !op.roles.includes(role));
      if (deniedRoles.length) {
        it(`refuses ${deniedRoles.join(' and ')} users of another account so that nothing about the target leaks`, async () => {
          for (const role of deniedRoles) {
            const { body: own } = await op.call(sessionOf(other, role), other);
            const { body: foreign } = await op.call(sessionOf(other, role), target);
            expect(codes(own), role).toContain('FORBIDDEN');
            // Either the target is out of reach (NOT_FOUND, as for an id that does not exist), or the
            // permission check came first and the refusal is the one they get at home: neither tells anything.
            if (codes(foreign).includes('NOT_FOUND')) expect(codes(foreign), role).not.toContain('FORBIDDEN');
            else expect(codes(foreign), role).toEqual(codes(own));
          }
        });
      }
    }
  });
}
