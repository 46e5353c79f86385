import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { optionalId } from '../common/common.schema.js';
import { requires } from '../permission/permission.guard.js';
import {
  changeGracePeriod,
  createScopedKey,
  type RotationResult,
  revealApiKeySecret,
  revokeApiKey,
  rotateApiKey,
  updateApiKey,
  updateApiKeyScopes,
} from './api-key.lifecycle.js';
import type { ApiKey } from './api-key.model.js';
import { ApiKeyRef, GracePeriodEnum, IssuedApiKeyRef } from './api-key.schema.js';
import { KEY_NEEDS } from './api-key.service.js';

const writeKeys = requires(KEY_NEEDS.write);

builder.objectField(ApiKeyRef, 'secret', (t) =>
  t.string({
    ...writeKeys,
    nullable: true,
    description:
      'The full key. Owners, and keys that could themselves create a key with this scope, may read it; every read is recorded in the audit log.',
    resolve: (key, _args, ctx) => revealApiKeySecret(ctx, key.id),
  }),
);

const ApiKeyPayload = builder.objectRef<ApiKey>('ApiKeyPayload').implement({
  fields: (t) => ({ apiKey: t.field({ type: ApiKeyRef, resolve: (key) => key }) }),
});

const RotateApiKeyPayload = builder.objectRef<RotationResult>('RotateApiKeyPayload').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, description: 'The new key.', resolve: (r) => r.issued.row }),
    secret: t.string({ description: "The new key's secret, shown once.", resolve: (r) => r.issued.secret }),
    previousKey: t.field({ type: ApiKeyRef, description: 'The old key, now expiring.', resolve: (r) => r.previous }),
  }),
});

const CreateScopedKeyInput = builder.inputType('CreateScopedKeyInput', {
  fields: (t) => ({
    environmentId: t.id({ required: false }),
    name: t.string({ required: true, description: '1 to 100 characters.' }),
    description: t.string({ required: false, description: 'Up to 500 characters.' }),
    scopes: t.stringList({ required: true, description: 'Catalogue permissions; write implies read.' }),
  }),
});

const UpdateApiKeyInput = builder.inputType('UpdateApiKeyInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ required: false, description: 'Scoped keys only.' }),
    description: t.string({ required: false }),
  }),
});

const UpdateApiKeyScopesInput = builder.inputType('UpdateApiKeyScopesInput', {
  fields: (t) => ({ id: t.id({ required: true }), scopes: t.stringList({ required: true }) }),
});

const RotateApiKeyInput = builder.inputType('RotateApiKeyInput', {
  fields: (t) => ({ id: t.id({ required: true }), expireOldKeyIn: t.field({ type: GracePeriodEnum, required: true }) }),
});

const ChangeGracePeriodInput = builder.inputType('ChangeGracePeriodInput', {
  fields: (t) => ({ id: t.id({ required: true }), expireIn: t.field({ type: GracePeriodEnum, required: true }) }),
});

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

builder.mutationFields((t) => ({
  createScopedKey: t.field({
    ...activity('Create scoped key'),
    ...writeKeys,
    type: IssuedApiKeyRef,
    description: 'SCALE plan only. The secret is returned once.',
    args: { input: t.arg({ type: CreateScopedKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createScopedKey(ctx, {
        environmentId: optionalId(input.environmentId),
        name: input.name,
        description: input.description,
        scopes: input.scopes,
      }),
  }),
  updateApiKey: t.field({
    ...activity('Update API key'),
    ...writeKeys,
    type: ApiKeyPayload,
    args: { input: t.arg({ type: UpdateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      updateApiKey(ctx, { id: String(input.id), name: input.name, description: input.description }),
  }),
  updateApiKeyScopes: t.field({
    ...activity('Update API key scopes'),
    ...writeKeys,
    type: ApiKeyPayload,
    description: 'Scoped keys only; takes effect on the next request.',
    args: { input: t.arg({ type: UpdateApiKeyScopesInput, required: true }) },
    resolve: (_root, { input }, ctx) => updateApiKeyScopes(ctx, { id: String(input.id), scopes: input.scopes }),
  }),
  rotateApiKey: t.field({
    ...activity('Rotate API key'),
    ...writeKeys,
    type: RotateApiKeyPayload,
    args: { input: t.arg({ type: RotateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => rotateApiKey(ctx, { id: String(input.id), expireOldKeyIn: input.expireOldKeyIn }),
  }),
  changeGracePeriod: t.field({
    ...activity('Change grace period'),
    ...writeKeys,
    type: ApiKeyPayload,
    description: 'Only for a key that is expiring soon after a rotation.',
    args: { input: t.arg({ type: ChangeGracePeriodInput, required: true }) },
    resolve: (_root, { input }, ctx) => changeGracePeriod(ctx, { id: String(input.id), expireIn: input.expireIn }),
  }),
  revokeApiKey: t.field({
    ...activity('Revoke API key'),
    ...writeKeys,
    type: ApiKeyPayload,
    description: 'Scoped keys only; immediate and irreversible.',
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => revokeApiKey(ctx, { id: String(input.id) }),
  }),
}));
