import type { RequestContext } from '../../context.js';
import { isUniqueViolation } from '../../database/errors.js';
import { conflict, notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { changeKeys, type IssuedKey } from '../api-key/api-key.change.js';
import type { ApiKey } from '../api-key/api-key.model.js';
import { findLiveKeyIdsOfIntegration } from '../api-key/api-key.repository.js';
import { reach, resolveEnvironment } from '../auth/tenancy.js';
import { ENVIRONMENT_NEEDS } from '../environment/environment.service.js';
import { assertGranted } from '../permission/permission.assert.js';
import { type IntegrationType, keyScopes } from '../permission/permission.model.js';
import { emitWebhookEvent, keyEventData } from '../webhook/webhook.outbox.js';
import { insertIntegration, listConnectedIntegrations, markDisconnected } from './integration.repository.js';
import type { IntegrationRow } from './integration.table.js';

/** How webhook events name an integration. */
const integrationSummary = (integration: IntegrationRow) => ({ id: integration.id, type: integration.type });

const INTEGRATION_NAMES: Record<IntegrationType, string> = {
  SALESFORCE: 'Salesforce',
  HUBSPOT: 'HubSpot',
  ZAPIER: 'Zapier',
};

export async function listIntegrations(ctx: RequestContext, environmentId?: string | null): Promise<IntegrationRow[]> {
  const { env, grants } = await resolveEnvironment(ctx, environmentId);
  assertGranted(grants, ENVIRONMENT_NEEDS.manage);
  const rows = await listConnectedIntegrations(ctx.db, env.id);
  for (const row of rows) ctx.loaders.integration.prime(row.id, row);
  return rows;
}

/** connectIntegration: one per type per environment; provisions its immutable INTEGRATION key. */
export async function connectIntegration(
  ctx: RequestContext,
  input: { environmentId?: string | null; type: IntegrationType },
): Promise<{ integration: IntegrationRow; issued: IssuedKey }> {
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, ENVIRONMENT_NEEDS.manage);
  const now = ctx.clock.now();
  try {
    return await changeKeys(ctx.deps, async (keys) => {
      const integrationId = newId('int');
      const issued = await keys.issue({
        accountId: env.account_id,
        environmentId: env.id,
        type: 'INTEGRATION',
        name: `${INTEGRATION_NAMES[input.type]} integration`,
        description: `Used by the ${INTEGRATION_NAMES[input.type]} integration; its scope is fixed by the integration.`,
        scopes: null,
        integrationId,
        actor: ctx.principal.actor,
        now,
        createdDetails: {
          integration: input.type,
          scopes: keyScopes({ type: 'INTEGRATION', scopes: null, integrationType: input.type }, ctx.deps.gateway.catalogue),
        },
      });
      const integration: IntegrationRow = {
        id: integrationId,
        account_id: env.account_id,
        environment_id: env.id,
        type: input.type,
        api_key_id: issued.row.id,
        connected_at: now.toISOString(),
        disconnected_at: null,
      };
      await insertIntegration(keys.trx, integration);
      await emitWebhookEvent(keys.trx, {
        accountId: env.account_id,
        environmentId: env.id,
        type: 'integration.connected',
        data: {
          ...(await keyEventData(keys.trx, issued.row, now, ctx.principal.actor)),
          integration: integrationSummary(integration),
        },
        at: now,
      });
      ctx.loaders.integration.prime(integration.id, integration);
      ctx.loaders.apiKey.prime(issued.row.id, issued.row);
      return { integration, issued };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`${INTEGRATION_NAMES[input.type]} is already connected to this environment.`);
    throw error;
  }
}

/**
 * disconnectIntegration: the integration's key stops authenticating at once
 * and leaves key lists; its audit trail and activity stay.
 */
export async function disconnectIntegration(ctx: RequestContext, input: { id: string }): Promise<{ id: string }> {
  const integration = await ctx.loaders.integration.load(input.id);
  const grants = integration && !integration.disconnected_at ? reach(ctx, integration) : null;
  if (!integration || !grants) throw notFound('Integration');
  assertGranted(grants, ENVIRONMENT_NEEDS.manage);
  const now = ctx.clock.now();
  const at = now.toISOString();
  await changeKeys(ctx.deps, async (keys) => {
    if (!(await markDisconnected(keys.trx, integration.id, at))) throw notFound('Integration');
    let current: ApiKey | null = null;
    for (const id of await findLiveKeyIdsOfIntegration(keys.trx, integration.id)) {
      const key = await keys.lock(id);
      if (!key) continue;
      const revoked = await keys.apply(
        key,
        { revokedAt: key.revokedAt ?? at, deletedAt: at },
        {
          event: 'KEY_REVOKED',
          actor: ctx.principal.actor,
          details: { reason: 'INTEGRATION_DISCONNECTED', integrationId: integration.id },
          at: now,
        },
      );
      if (revoked.id === integration.api_key_id) current = revoked;
      ctx.loaders.apiKey.clear(key.id);
    }
    // One event for the integration; the revocations of its keys send no api_key.revoked of their own.
    const keyData = current ? await keyEventData(keys.trx, current, now, ctx.principal.actor) : {};
    await emitWebhookEvent(keys.trx, {
      accountId: integration.account_id,
      environmentId: integration.environment_id,
      type: 'integration.disconnected',
      data: {
        environmentId: integration.environment_id,
        apiKey: null,
        actor: ctx.principal.actor,
        ...keyData,
        integration: integrationSummary(integration),
      },
      at: now,
    });
  });
  ctx.loaders.integration.clear(integration.id);
  return { id: integration.id };
}
