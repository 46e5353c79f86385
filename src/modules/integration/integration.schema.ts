import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import type { IssuedKey } from '../api-key/api-key.change.js';
import { ApiKeyRef, keyDetail } from '../api-key/api-key.schema.js';
import { NodeRef, optionalId } from '../common/common.schema.js';
import { EnvironmentRef } from '../environment/environment.schema.js';
import { ENVIRONMENT_NEEDS } from '../environment/environment.service.js';
import { requires } from '../permission/permission.guard.js';
import { INTEGRATION_SCOPES } from '../permission/permission.model.js';
import { connectIntegration, disconnectIntegration, listIntegrations } from './integration.service.js';
import type { IntegrationRow } from './integration.table.js';

export const IntegrationTypeEnum = builder.enumType('IntegrationType', {
  values: Object.keys(INTEGRATION_SCOPES) as (keyof typeof INTEGRATION_SCOPES)[],
});

export const IntegrationRef = builder.objectRef<IntegrationRow>('Integration');

IntegrationRef.implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.field({ type: IntegrationTypeEnum, resolve: (i) => i.type }),
    environment: t.field({
      ...activity('View environment'),
      type: EnvironmentRef,
      resolve: async (i, _args, ctx) => (await ctx.loaders.environment.load(i.environment_id))!,
    }),
    connectedAt: t.field({ type: 'DateTime', resolve: (i) => i.connected_at }),
    apiKey: t.field({
      ...activity('View API key'),
      type: ApiKeyRef,
      nullable: true,
      description: 'The integration key; null once the integration is disconnected.',
      resolve: (i, _args, ctx) => (i.disconnected_at ? null : ctx.loaders.apiKey.load(i.api_key_id)),
    }),
  }),
});

builder.objectField(ApiKeyRef, 'integration', (t) =>
  t.field({
    ...keyDetail,
    type: IntegrationRef,
    nullable: true,
    description: 'The integration an INTEGRATION key belongs to.',
    resolve: (k, _args, ctx) => (k.integrationId ? ctx.loaders.integration.load(k.integrationId) : null),
  }),
);

const ConnectIntegrationInput = builder.inputType('ConnectIntegrationInput', {
  fields: (t) => ({ environmentId: t.id({ required: false }), type: t.field({ type: IntegrationTypeEnum, required: true }) }),
});

const DisconnectIntegrationInput = builder.inputType('DisconnectIntegrationInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const ConnectIntegrationPayload = builder
  .objectRef<{ integration: IntegrationRow; issued: IssuedKey }>('ConnectIntegrationPayload')
  .implement({
    fields: (t) => ({
      integration: t.field({ type: IntegrationRef, resolve: (p) => p.integration }),
      secret: t.string({ description: "The integration key's secret, shown once.", resolve: (p) => p.issued.secret }),
    }),
  });

const DisconnectIntegrationPayload = builder.objectRef<{ id: string }>('DisconnectIntegrationPayload').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

const manageEnvironment = requires(ENVIRONMENT_NEEDS.manage);

builder.queryField('integrations', (t) =>
  t.field({
    ...activity('List integrations'),
    ...manageEnvironment,
    type: [IntegrationRef],
    description: 'Connected integrations of an environment. Owners and the full access key.',
    args: { environmentId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) => listIntegrations(ctx, optionalId(args.environmentId)),
  }),
);

builder.mutationFields((t) => ({
  connectIntegration: t.field({
    ...activity('Connect integration'),
    ...manageEnvironment,
    type: ConnectIntegrationPayload,
    description: 'Provisions an INTEGRATION key with the fixed scope of the integration type; CONFLICT if already connected.',
    args: { input: t.arg({ type: ConnectIntegrationInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      connectIntegration(ctx, {
        environmentId: optionalId(input.environmentId),
        type: input.type,
      }),
  }),
  disconnectIntegration: t.field({
    ...activity('Disconnect integration'),
    ...manageEnvironment,
    type: DisconnectIntegrationPayload,
    description: 'The integration key stops authenticating at once and leaves key lists; its audit trail stays.',
    args: { input: t.arg({ type: DisconnectIntegrationInput, required: true }) },
    resolve: (_root, { input }, ctx) => disconnectIntegration(ctx, { id: String(input.id) }),
  }),
}));
