import type { Selectable } from 'kysely';

export type SubscriptionStatus = 'ACTIVE' | 'CANCELED';

export interface SubscriptionTable {
  id: string;
  account_id: string;
  environment_id: string;
  /** customers.id (not the caller's customerId). */
  customer_ref: string;
  plan_id: string;
  status: SubscriptionStatus;
  created_at: string;
  canceled_at: string | null;
}

export type SubscriptionRow = Selectable<SubscriptionTable>;
