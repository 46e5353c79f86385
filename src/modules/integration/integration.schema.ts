import { builder } from '../../builder.js';
import { ApiKeyRef } from '../api-key/api-key.schema.js';
import { NodeRef } from '../common/common.schema.js';
import { EnvironmentRef } from '../environment/environment.schema.js';
import { INTEGRATION_SCOPES } from '../permission/permission.model.js';
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
      type: EnvironmentRef,
      resolve: async (i, _args, ctx) => (await ctx.loaders.environment.load(i.environment_id))!,
    }),
    connectedAt: t.field({ type: 'DateTime', resolve: (i) => i.connected_at }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The integration key; null once the integration is disconnected.',
      resolve: (i, _args, ctx) => (i.disconnected_at ? null : ctx.loaders.apiKey.load(i.api_key_id)),
    }),
  }),
});

builder.objectField(ApiKeyRef, 'integration', (t) =>
  t.field({
    type: IntegrationRef,
    nullable: true,
    description: 'The integration an INTEGRATION key belongs to.',
    resolve: (k, _args, ctx) => (k.integration_id ? ctx.loaders.integration.load(k.integration_id) : null),
  }),
);
