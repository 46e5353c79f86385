import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';
import type { Database } from './database/database.js';
import type { Deps } from './deps.js';
import { findAccountsByIds, findUsersByIds } from './modules/account/account.repository.js';
import type { AccountRow, UserRow } from './modules/account/account.table.js';
import { findKeysByIds } from './modules/api-key/api-key.repository.js';
import type { ApiKeyRow } from './modules/api-key/api-key.table.js';
import type { Principal } from './modules/auth/principal.js';
import { findCustomersByIds } from './modules/customer/customer.repository.js';
import type { CustomerRow } from './modules/customer/customer.table.js';
import { findEnvironmentsByIds } from './modules/environment/environment.repository.js';
import type { EnvironmentRow } from './modules/environment/environment.table.js';
import { findIntegrationsByIds } from './modules/integration/integration.repository.js';
import type { IntegrationRow } from './modules/integration/integration.table.js';
import { findSubscriptionsByIds, findSubscriptionsOfCustomers } from './modules/subscription/subscription.repository.js';
import type { SubscriptionRow } from './modules/subscription/subscription.table.js';
import type { Clock } from './shared/clock.js';

/** Everything a resolver or service sees for one request. Built once per request. */
export interface RequestContext {
  requestId: string;
  principal: Principal;
  /** `X-Customer-Token`, for publishable-key reads (see client-security). */
  customerToken: string | null;
  deps: Deps;
  db: Kysely<Database>;
  clock: Clock;
  loaders: Loaders;
}

/** Keygate ids: a prefix and a ULID. Anything else cannot exist and is never sent to the database. */
const ID = /^[a-z]{3}_[0-9A-Z]{26}$/;

function byId<T extends { id: string }>(load: (ids: readonly string[]) => Promise<T[]>) {
  return new DataLoader<string, T | null>(async (ids) => {
    const wellFormed = ids.filter((id) => ID.test(id));
    const rows = new Map((wellFormed.length ? await load(wellFormed) : []).map((r) => [r.id, r]));
    return ids.map((id) => rows.get(id) ?? null);
  });
}

/** Per-request batching and caching of lookups by id (every relation goes through one). */
export function createLoaders(db: Kysely<Database>) {
  return {
    account: byId<AccountRow>((ids) => findAccountsByIds(db, ids)),
    user: byId<UserRow>((ids) => findUsersByIds(db, ids)),
    environment: byId<EnvironmentRow>((ids) => findEnvironmentsByIds(db, ids)),
    apiKey: byId<ApiKeyRow>((ids) => findKeysByIds(db, ids)),
    integration: byId<IntegrationRow>((ids) => findIntegrationsByIds(db, ids)),
    customer: byId<CustomerRow>((ids) => findCustomersByIds(db, ids)),
    subscription: byId<SubscriptionRow>((ids) => findSubscriptionsByIds(db, ids)),
    /** Subscriptions per customer (customers.id): one statement for a whole page of customers. */
    subscriptionsOfCustomer: new DataLoader<string, SubscriptionRow[]>(async (refs) => {
      const rows = await findSubscriptionsOfCustomers(db, refs);
      return refs.map((ref) => rows.filter((r) => r.customer_ref === ref));
    }),
  };
}
export type Loaders = ReturnType<typeof createLoaders>;
