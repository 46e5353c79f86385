import type { Selectable } from 'kysely';
import type { IntegrationType } from '../permission/permission.model.js';

export interface IntegrationTable {
  id: string;
  account_id: string;
  environment_id: string;
  type: IntegrationType;
  api_key_id: string;
  connected_at: string;
  disconnected_at: string | null;
}

export type IntegrationRow = Selectable<IntegrationTable>;
