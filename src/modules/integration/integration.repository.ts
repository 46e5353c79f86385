import type { Kysely } from 'kysely';
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
