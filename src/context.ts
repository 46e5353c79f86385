import DataLoader from 'dataloader';
import type { Kysely } from 'kysely';
import type { Database } from './database/database.js';
import type { Deps } from './deps.js';
import { findAccountsByIds, findUsersByIds } from './modules/account/account.repository.js';
import type { AccountRow, UserRow } from './modules/account/account.table.js';
import type { ActivityPlaces } from './modules/activity/activity.places.js';
import type { ApiKey } from './modules/api-key/api-key.model.js';
import { findKeysByIds } from './modules/api-key/api-key.repository.js';
import type { Principal } from './modules/auth/principal.js';
import type { SentCustomerToken } from './modules/client-security/client-security.service.js';
import { findCustomersByIds } from './modules/customer/customer.repository.js';
import type { CustomerRow } from './modules/customer/customer.table.js';
import { findEnvironmentsByIds } from './modules/environment/environment.repository.js';
import type { EnvironmentRow } from './modules/environment/environment.table.js';
import { findIntegrationsByIds } from './modules/integration/integration.repository.js';
import type { IntegrationRow } from './modules/integration/integration.table.js';
import { findSubscriptionsByIds, findSubscriptionsOfCustomers } from './modules/subscription/subscription.repository.js';
import type { SubscriptionRow } from './modules/subscription/subscription.table.js';
import type { WebhookEndpoint } from './modules/webhook/webhook.model.js';
import { findEndpointsByIds } from './modules/webhook/webhook.repository.js';
import type { Clock } from './shared/clock.js';

/** Everything a resolver or service sees for one request. Built once per request. */
export interface RequestContext {
  /** The HTTP request (Yoga's initial context). */
  request: Request;
  requestId: string;
  principal: Principal;
  /** `X-Customer-Token` or `X-Customer-Key`, for publishable-key reads (see client-security). */
  customerToken: SentCustomerToken;
  deps: Deps;
  db: Kysely<Database>;
  /** `deps.reads.db`: where list pages and counts are read, so a long one stalls no other request. */
  reads: Kysely<Database>;
  clock: Clock;
  loaders: Loaders;
  /** Where each root field's call landed, recorded by the services (activity log). */
  activityPlaces: ActivityPlaces;
  /** The root field (response key) whose resolver holds this context; unset in nested fields. */
  activityRoot?: string;
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

/**
 * Per-request batching and caching of lookups by id (every relation goes
 * through one). Each loader is made on first use: most requests touch one or
 * two of them, and the context is built on every request.
 */
export class Loaders {
  readonly #made = new Map<string, unknown>();

  constructor(private readonly db: Kysely<Database>) {}

  #once<T>(name: string, make: () => T): T {
    let loader = this.#made.get(name) as T | undefined;
    if (loader === undefined) {
      loader = make();
      this.#made.set(name, loader);
    }
    return loader;
  }

  get account() {
    return this.#once('account', () => byId<AccountRow>((ids) => findAccountsByIds(this.db, ids)));
  }
  get user() {
    return this.#once('user', () => byId<UserRow>((ids) => findUsersByIds(this.db, ids)));
  }
  get environment() {
    return this.#once('environment', () => byId<EnvironmentRow>((ids) => findEnvironmentsByIds(this.db, ids)));
  }
  get apiKey() {
    return this.#once('apiKey', () => byId<ApiKey>((ids) => findKeysByIds(this.db, ids)));
  }
  get integration() {
    return this.#once('integration', () => byId<IntegrationRow>((ids) => findIntegrationsByIds(this.db, ids)));
  }
  get customer() {
    return this.#once('customer', () => byId<CustomerRow>((ids) => findCustomersByIds(this.db, ids)));
  }
  get subscription() {
    return this.#once('subscription', () => byId<SubscriptionRow>((ids) => findSubscriptionsByIds(this.db, ids)));
  }
  get webhookEndpoint() {
    return this.#once('webhookEndpoint', () => byId<WebhookEndpoint>((ids) => findEndpointsByIds(this.db, ids)));
  }
  /** Subscriptions per customer (customers.id): one statement for a whole page of customers. */
  get subscriptionsOfCustomer() {
    return this.#once(
      'subscriptionsOfCustomer',
      () =>
        new DataLoader<string, SubscriptionRow[]>(async (refs) => {
          const byCustomer = new Map<string, SubscriptionRow[]>(refs.map((ref) => [ref, []]));
          for (const row of await findSubscriptionsOfCustomers(this.db, refs)) byCustomer.get(row.customer_ref)?.push(row);
          return refs.map((ref) => byCustomer.get(ref) ?? []);
        }),
    );
  }
}
