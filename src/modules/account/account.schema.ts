import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { integrationTypeOfKey } from '../api-key/api-key.integration.js';
import { ApiKeyRef } from '../api-key/api-key.schema.js';
import type { Principal } from '../auth/principal.js';
import { NodeRef } from '../common/common.schema.js';
import { EnvironmentRef } from '../environment/environment.schema.js';
import { listEnvironments } from '../environment/environment.service.js';
import { authenticated } from '../permission/permission.guard.js';
import { keyScopes } from '../permission/permission.model.js';
import { type AccountRow, PLANS, ROLES, type Role, type UserRow } from './account.table.js';

export const PlanEnum = builder.enumType('Plan', { values: PLANS });
export const RoleEnum = builder.enumType('Role', { values: ROLES });

export const AccountRef = builder.objectRef<AccountRow>('Account');
export const UserRef = builder.objectRef<UserRow>('User');
const MembershipRef = builder.objectRef<{ accountId: string; role: Role }>('Membership');
const ViewerRef = builder.objectRef<Principal>('Viewer');

AccountRef.implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    plan: t.field({ type: PlanEnum, resolve: (a) => a.plan }),
    environments: t.field({
      ...activity('List environments'),
      type: [EnvironmentRef],
      description: 'Environments of this account the caller can see.',
      resolve: (a, _args, ctx) => listEnvironments(ctx, a.id),
    }),
  }),
});

UserRef.implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name', { nullable: true }),
  }),
});

MembershipRef.implement({
  fields: (t) => ({
    account: t.field({
      type: AccountRef,
      resolve: async (m, _args, ctx) => (await ctx.loaders.account.load(m.accountId))!,
    }),
    role: t.field({ type: RoleEnum, resolve: (m) => m.role }),
  }),
});

ViewerRef.implement({
  description: 'The caller of this request.',
  fields: (t) => ({
    kind: t.field({
      type: builder.enumType('ViewerKind', { values: ['USER', 'API_KEY'] as const }),
      resolve: (p) => p.kind,
    }),
    user: t.field({ type: UserRef, nullable: true, resolve: (p) => (p.kind === 'USER' ? p.user : null) }),
    memberships: t.field({
      type: [MembershipRef],
      resolve: (p) => (p.kind === 'USER' ? [...p.roles].map(([accountId, role]) => ({ accountId, role })) : []),
    }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      // The key as stored now: the verified-key cache holds the row as it was read (lastUsedAt included), without its ciphertext.
      resolve: (p, _args, ctx) => (p.kind === 'API_KEY' ? ctx.loaders.apiKey.load(p.key.id) : null),
    }),
    environment: t.field({
      ...activity('View environment'),
      type: EnvironmentRef,
      nullable: true,
      resolve: (p, _args, ctx) => (p.kind === 'API_KEY' ? ctx.loaders.environment.load(p.key.environmentId) : null),
    }),
    permissions: t.stringList({
      description: 'Effective permissions of an API key caller; empty for users.',
      resolve: async (p, _args, ctx) =>
        p.kind === 'API_KEY'
          ? // Its scope as far as it holds it now (a rotated key no longer manages keys).
            keyScopes(
              {
                type: p.key.type,
                scopes: p.key.scopes,
                integrationType: await integrationTypeOfKey(ctx.loaders.integration, p.key),
              },
              ctx.deps.gateway.catalogue,
            ).filter((permission) => p.grants.has(permission))
          : [],
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({ ...authenticated, ...activity('View caller'), type: ViewerRef, resolve: (_root, _args, ctx) => ctx.principal }),
);
