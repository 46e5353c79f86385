import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import type { IntegrationType } from '../permission/permission.model.js';
import type { ApiKeyRow } from './api-key.table.js';

type IntegrationLoader = { load(id: string): Promise<{ type: IntegrationType } | null> };

/** The integration type that fixes an INTEGRATION key's scope; null for every other key type. */
export async function integrationTypeOfKey(
  source: Kysely<Database> | IntegrationLoader,
  key: Pick<ApiKeyRow, 'type' | 'integration_id'>,
): Promise<IntegrationType | null> {
  if (key.type !== 'INTEGRATION' || !key.integration_id) return null;
  if ('load' in source) return (await source.load(key.integration_id))?.type ?? null;
  const row = await source.selectFrom('integrations').select('type').where('id', '=', key.integration_id).executeTakeFirst();
  return row?.type ?? null;
}
