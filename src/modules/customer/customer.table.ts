import type { Selectable } from 'kysely';

export interface CustomerTable {
  id: string;
  account_id: string;
  environment_id: string;
  customer_id: string;
  name: string | null;
  email: string | null;
  /** JSON text (both dialects return JSON columns as text; see database/connect.ts). */
  metadata: string | null;
  created_at: string;
  updated_at: string;
}

export type CustomerRow = Selectable<CustomerTable>;
