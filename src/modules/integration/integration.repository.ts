import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../database/database.js';
import type { IntegrationRow } from './integration.table.js';

export async function findIntegrationsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<IntegrationRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('integrations').selectAll().where('id', 'in', ids).execute();
}

export async function listConnectedIntegrations(db: Kysely<Database>, environmentId: string): Promise<IntegrationRow[]> {
  return db
    .selectFrom('integrations')
    .selectAll()
    .where('environment_id', '=', environmentId)
    .where('disconnected_at', 'is', null)
    .orderBy('id')
    .execute();
}

export async function insertIntegration(trx: Transaction<Database>, integration: IntegrationRow): Promise<void> {
  await trx.insertInto('integrations').values(integration).execute();
}

/** Points an integration at its new key (a rotation). */
export async function setIntegrationKey(trx: Transaction<Database>, id: string, apiKeyId: string): Promise<void> {
  await trx.updateTable('integrations').set({ api_key_id: apiKeyId }).where('id', '=', id).execute();
}

/** Marks a connected integration disconnected; false when it was not connected (any more). */
export async function markDisconnected(trx: Transaction<Database>, id: string, at: string): Promise<boolean> {
  const result = await trx
    .updateTable('integrations')
    .set({ disconnected_at: at })
    .where('id', '=', id)
    .where('disconnected_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}
