import type { Actor } from '../audit/actor.js';
import type { ApiKeyType } from './api-key.table.js';

/**
 * An API key as the application sees it: what the repository returns for an
 * `api_keys` row, mapped once at its edge (camelCase, the stored scope parsed).
 */
export interface ApiKey {
  id: string;
  accountId: string;
  environmentId: string;
  type: ApiKeyType;
  name: string;
  description: string | null;
  digest: string;
  last4: string;
  /** AES-256-GCM ciphertext bound to the id (reveal); never the plaintext. */
  secretEncrypted: string;
  /** Only scoped keys store a scope (see permission.model.ts); every other type has null. */
  scopes: readonly string[] | null;
  integrationId: string | null;
  createdAt: string;
  createdBy: Actor;
  expiresAt: string | null;
  revokedAt: string | null;
  rotatedFromId: string | null;
  rotatedToId: string | null;
  lastUsedAt: string | null;
  deletedAt: string | null;
}
