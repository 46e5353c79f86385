import type { RequestContext } from '../../context.js';
import { isUniqueViolation } from '../../database/errors.js';
import { conflict, notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { lockKey, updateKey } from '../api-key/api-key.repository.js';
import { type IssuedKey, issueKey } from '../api-key/api-key.service.js';
import { recordKeyEvent } from '../audit/key-audit.repository.js';
import { grantsOn } from '../auth/principal.js';
import { ENVIRONMENT_NEEDS, resolveEnvironment } from '../environment/environment.service.js';
import { assertGranted } from '../permission/permission.assert.js';
import { type IntegrationType, keyScopes } from '../permission/permission.model.js';
import { listConnectedIntegrations } from './integration.repository.js';
import type { IntegrationRow } from './integration.table.js';

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
    return await ctx.db.transaction().execute(async (trx) => {
      const integrationId = newId('int');
      const issued = await issueKey(trx, ctx.deps, {
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
          scopes: keyScopes({ type: 'INTEGRATION', scopes: null, integrationType: input.type }),
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
      await trx.insertInto('integrations').values(integration).execute();
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
  const grants = integration && !integration.disconnected_at ? grantsOn(ctx.principal, integration) : null;
  if (!integration || !grants) throw notFound('Integration');
  assertGranted(grants, ENVIRONMENT_NEEDS.manage);
  const now = ctx.clock.now().toISOString();
  const revokedKeys: string[] = [];
  await ctx.db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('integrations')
      .set({ disconnected_at: now })
      .where('id', '=', integration.id)
      .where('disconnected_at', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows !== 1n) throw notFound('Integration');
    // Every live key of the integration: the current one and any rotated-out key still in its grace period.
    const keys = await trx
      .selectFrom('api_keys')
      .select('id')
      .where('integration_id', '=', integration.id)
      .where('deleted_at', 'is', null)
      .execute();
    for (const { id } of keys) {
      const key = await lockKey(trx, id, ctx.deps.database.dialect);
      if (!key) continue;
      await updateKey(trx, key.id, { revoked_at: key.revoked_at ?? now, deleted_at: now });
      await ctx.deps.keyCache.announce(trx, key.id);
      revokedKeys.push(key.id);
      await recordKeyEvent(trx, {
        keyId: key.id,
        environmentId: key.environment_id,
        event: 'KEY_REVOKED',
        actor: ctx.principal.actor,
        details: { reason: 'INTEGRATION_DISCONNECTED', integrationId: integration.id },
        at: new Date(now),
      });
      ctx.loaders.apiKey.clear(key.id);
    }
  });
  for (const keyId of revokedKeys) ctx.deps.keyCache.invalidate(keyId);
  ctx.loaders.integration.clear(integration.id);
  return { id: integration.id };
}
