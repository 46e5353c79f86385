import type { Selectable } from 'kysely';

export type ClientSideSecurity = 'NOT_ENFORCED' | 'ENFORCED';

export interface EnvironmentTable {
  id: string;
  account_id: string;
  name: string;
  slug: string;
  client_side_security: ClientSideSecurity;
  /** AES-256-GCM under the master key; see shared/secret-box.ts. */
  signing_secret_encrypted: string;
  created_at: string;
}

export type EnvironmentRow = Selectable<EnvironmentTable>;
