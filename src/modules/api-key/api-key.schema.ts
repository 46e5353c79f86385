import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { ActorRef, KeyAuditEventConnectionRef } from '../audit/audit.schema.js';
import { connectionType, NodeRef, optionalId, pageArgs } from '../common/common.schema.js';
import { EnvironmentRef } from '../environment/environment.schema.js';
import { requires, requiresUnless } from '../permission/permission.guard.js';
import { keyScopes } from '../permission/permission.model.js';
import type { IssuedKey } from './api-key.change.js';
import { integrationTypeOfKey } from './api-key.integration.js';
import type { ApiKey } from './api-key.model.js';
import { maskKey } from './api-key.secret.js';
import { getApiKey, KEY_NEEDS, KEY_PREFIX, listApiKeys, listKeyAuditLog } from './api-key.service.js';
import { GRACE_PERIODS, keyCategory, keyStatus } from './api-key.status.js';
import { API_KEY_TYPES } from './api-key.table.js';

export const ApiKeyTypeEnum = builder.enumType('ApiKeyType', { values: API_KEY_TYPES });
export const ApiKeyCategoryEnum = builder.enumType('ApiKeyCategory', {
  description: "The list filter's Type: DEFAULT is full access, publishable and integration keys.",
  values: ['DEFAULT', 'SCOPED'] as const,
});
export const ApiKeyStatusEnum = builder.enumType('ApiKeyStatus', {
  values: ['ACTIVE', 'EXPIRING_SOON', 'EXPIRED'] as const,
});
export const GracePeriodEnum = builder.enumType('GracePeriod', {
  values: Object.keys(GRACE_PERIODS) as (keyof typeof GRACE_PERIODS)[],
});

export const ApiKeyRef = builder.objectRef<ApiKey>('ApiKey');

/**
 * An ApiKey reached through any path (activity, links between keys) shows
 * id, name, type and category; the rest needs api_keys:read, except on the
 * caller's own key (SPEC §4).
 */
export const keyDetail = requiresUnless<ApiKey>(
  (key, ctx) => ctx.principal.kind === 'API_KEY' && ctx.principal.key.id === key.id,
  KEY_NEEDS.read,
);

ApiKeyRef.implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { ...keyDetail, nullable: true }),
    type: t.field({ type: ApiKeyTypeEnum, resolve: (k) => k.type }),
    category: t.field({ type: ApiKeyCategoryEnum, resolve: (k) => keyCategory(k.type) }),
    maskedKey: t.string({
      ...keyDetail,
      description: 'Prefix and last four characters, e.g. server-••••3f9a. Never the secret.',
      resolve: (k) => maskKey(KEY_PREFIX[k.type], k.last4),
    }),
    status: t.field({ ...keyDetail, type: ApiKeyStatusEnum, resolve: (k, _args, ctx) => keyStatus(k, ctx.clock.now()) }),
    expiresAt: t.field({ ...keyDetail, type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    revokedAt: t.field({ ...keyDetail, type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
    createdAt: t.field({ ...keyDetail, type: 'DateTime', resolve: (k) => k.createdAt }),
    lastUsedAt: t.field({ ...keyDetail, type: 'DateTime', nullable: true, resolve: (k) => k.lastUsedAt }),
    environment: t.field({
      ...activity('View environment'),
      ...keyDetail,
      type: EnvironmentRef,
      resolve: async (k, _args, ctx) => (await ctx.loaders.environment.load(k.environmentId))!,
    }),
    scopes: t.stringList({
      ...keyDetail,
      resolve: async (k, _args, ctx) =>
        keyScopes(
          { type: k.type, scopes: k.scopes, integrationType: await integrationTypeOfKey(ctx.loaders.integration, k) },
          ctx.deps.gateway.catalogue,
        ),
    }),
    scopesEditable: t.boolean({ ...keyDetail, resolve: (k) => k.type === 'SCOPED' }),
    nameEditable: t.boolean({ ...keyDetail, resolve: (k) => k.type === 'SCOPED' }),
    rotatedFrom: t.field({
      ...keyDetail,
      type: ApiKeyRef,
      nullable: true,
      resolve: (k, _args, ctx) => (k.rotatedFromId ? ctx.loaders.apiKey.load(k.rotatedFromId) : null),
    }),
    rotatedTo: t.field({
      ...keyDetail,
      type: ApiKeyRef,
      nullable: true,
      resolve: (k, _args, ctx) => (k.rotatedToId ? ctx.loaders.apiKey.load(k.rotatedToId) : null),
    }),
    createdBy: t.field({
      ...keyDetail,
      type: ActorRef,
      resolve: (k) => k.createdBy,
    }),
    auditLog: t.field({
      ...requires(KEY_NEEDS.read),
      type: KeyAuditEventConnectionRef,
      description: 'Lifecycle events of this key, newest first.',
      args: pageArgs(t),
      resolve: (k, args, ctx) => listKeyAuditLog(ctx, k, args),
    }),
  }),
});

export const IssuedApiKeyRef = builder.objectRef<IssuedKey>('IssuedApiKey').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (i) => i.row }),
    secret: t.string({ description: 'Shown here once; later only through ApiKey.secret.', resolve: (i) => i.secret }),
  }),
});

const ApiKeyFilter = builder.inputType('ApiKeyFilter', {
  fields: (t) => ({
    categories: t.field({ type: [ApiKeyCategoryEnum], required: false }),
    statuses: t.field({ type: [ApiKeyStatusEnum], required: false }),
  }),
});

const ApiKeyConnectionRef = connectionType('ApiKey', ApiKeyRef);

builder.queryFields((t) => ({
  apiKeys: t.field({
    ...activity('List API keys'),
    ...requires(KEY_NEEDS.read),
    type: ApiKeyConnectionRef,
    description:
      "Keys of an environment in creation order. environmentId defaults to the calling key's environment; users must pass it.",
    args: {
      environmentId: t.arg.id({ required: false }),
      filter: t.arg({ type: ApiKeyFilter, required: false }),
      ...pageArgs(t),
    },
    resolve: (_root, args, ctx) =>
      listApiKeys(ctx, {
        environmentId: optionalId(args.environmentId),
        categories: args.filter?.categories,
        statuses: args.filter?.statuses,
        first: args.first,
        after: args.after,
      }),
  }),
  apiKey: t.field({
    ...activity('View API key'),
    ...requires(KEY_NEEDS.read),
    type: ApiKeyRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => getApiKey(ctx, String(args.id)),
  }),
}));
