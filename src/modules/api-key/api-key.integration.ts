import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import type { IntegrationType } from '../permission/permission.model.js';
import type { ApiKeyRow } from './api-key.table.js';

/** The integration type that fixes an INTEGRATION key's scope; null for every other key type. */
export async function integrationTypeOfKey(
  _db: Kysely<Database>,
  key: Pick<ApiKeyRow, 'type' | 'integration_id'>,
): Promise<IntegrationType | null> {
  if (key.type !== 'INTEGRATION') return null;
  // Integration keys arrive with the integrations module; until then none can exist.
  throw new Error(`Integration key ${key.integration_id} found before integrations exist.`);
}
