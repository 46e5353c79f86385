import type { Selectable } from 'kysely';
import type { ActorType } from '../audit/actor.js';

export const API_KEY_TYPES = ['FULL_ACCESS', 'PUBLISHABLE', 'SCOPED', 'INTEGRATION'] as const;
export type ApiKeyType = (typeof API_KEY_TYPES)[number];

export interface ApiKeyTable {
  id: string;
  account_id: string;
  environment_id: string;
  type: ApiKeyType;
  name: string;
  description: string | null;
  digest: string;
  last4: string;
  secret_encrypted: string;
  /** JSON array as text, parsed by the repository only; only scoped keys store one (see permission.model.ts). */
  scopes: string | null;
  integration_id: string | null;
  created_at: string;
  created_by_type: ActorType;
  created_by_id: string | null;
  created_by_name: string;
  expires_at: string | null;
  revoked_at: string | null;
  rotated_from_id: string | null;
  rotated_to_id: string | null;
  last_used_at: string | null;
  deleted_at: string | null;
}

export type ApiKeyRow = Selectable<ApiKeyTable>;
