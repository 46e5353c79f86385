import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import { findIntegrationsByIds } from '../integration/integration.repository.js';
import type { IntegrationType } from '../permission/permission.model.js';
import type { ApiKey } from './api-key.model.js';

type IntegrationLoader = { load(id: string): Promise<{ type: IntegrationType } | null> };

/** The integration type that fixes an INTEGRATION key's scope; null for every other key type. */
export async function integrationTypeOfKey(
  source: Kysely<Database> | IntegrationLoader,
  key: Pick<ApiKey, 'type' | 'integrationId'>,
): Promise<IntegrationType | null> {
  if (key.type !== 'INTEGRATION' || !key.integrationId) return null;
  if ('load' in source) return (await source.load(key.integrationId))?.type ?? null;
  const [integration] = await findIntegrationsByIds(source, [key.integrationId]);
  return integration?.type ?? null;
}
