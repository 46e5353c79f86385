import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { WebhookDelivery, WebhookEndpoint } from './webhook.model.js';
import type { WebhookDeliveryRow, WebhookEndpointRow, WebhookEventType } from './webhook.table.js';

type Db = Kysely<Database>;

/**
 * `enabled` as bound: 1 or 0. SQLite has no boolean type (better-sqlite3 binds
 * no booleans), and PostgreSQL reads `1`/`0` into a boolean column; reads give
 * 1/0 or true/false, and toEndpoint takes either.
 */
const flag = (value: boolean) => (value ? 1 : 0);

/** The one mapping from a stored endpoint to the domain object: event types are parsed here and nowhere else. */
function toEndpoint(row: WebhookEndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    accountId: row.account_id,
    environmentId: row.environment_id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as WebhookEventType[],
    enabled: Boolean(row.enabled),
    secretEncrypted: row.secret_encrypted,
    previousSecretEncrypted: row.previous_secret_encrypted,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function findEndpointsByIds(db: Db, ids: readonly string[]): Promise<WebhookEndpoint[]> {
  if (ids.length === 0) return [];
  return (await db.selectFrom('webhook_endpoints').selectAll().where('id', 'in', ids).execute()).map(toEndpoint);
}

/** An environment's endpoints in creation order (at most MAX_ENDPOINTS_PER_ENVIRONMENT of them). */
export async function listEndpoints(db: Db, environmentId: string): Promise<WebhookEndpoint[]> {
  return (
    await db.selectFrom('webhook_endpoints').selectAll().where('environment_id', '=', environmentId).orderBy('id').execute()
  ).map(toEndpoint);
}

export function countEndpoints(db: Db, environmentId: string): Promise<number> {
  return countRows(db.selectFrom('webhook_endpoints').selectAll().where('environment_id', '=', environmentId));
}

export async function insertEndpoint(db: Db, endpoint: WebhookEndpoint): Promise<void> {
  await db
    .insertInto('webhook_endpoints')
    .values({
      id: endpoint.id,
      account_id: endpoint.accountId,
      environment_id: endpoint.environmentId,
      url: endpoint.url,
      description: endpoint.description,
      event_types: JSON.stringify(endpoint.eventTypes),
      enabled: flag(endpoint.enabled),
      secret_encrypted: endpoint.secretEncrypted,
      previous_secret_encrypted: endpoint.previousSecretEncrypted,
      previous_secret_expires_at: endpoint.previousSecretExpiresAt,
      created_at: endpoint.createdAt,
      updated_at: endpoint.updatedAt,
    })
    .execute();
}

/** What an update may change. */
export type EndpointPatch = Partial<
  Pick<
    WebhookEndpoint,
    'url' | 'description' | 'eventTypes' | 'enabled' | 'secretEncrypted' | 'previousSecretEncrypted' | 'previousSecretExpiresAt'
  >
> & { updatedAt: string };

/** Applies a patch; the endpoint as stored after it, or undefined when it no longer exists. */
export async function updateEndpoint(db: Db, id: string, patch: EndpointPatch): Promise<WebhookEndpoint | undefined> {
  const row = await db
    .updateTable('webhook_endpoints')
    .set({
      url: patch.url,
      description: patch.description,
      event_types: patch.eventTypes === undefined ? undefined : JSON.stringify(patch.eventTypes),
      enabled: patch.enabled === undefined ? undefined : flag(patch.enabled),
      secret_encrypted: patch.secretEncrypted,
      previous_secret_encrypted: patch.previousSecretEncrypted,
      previous_secret_expires_at: patch.previousSecretExpiresAt,
      updated_at: patch.updatedAt,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row && toEndpoint(row);
}

/**
 * Replaces an endpoint's signing secret, keeping the one it replaces as the
 * previous secret until `previousExpiresAt`. One statement: the previous
 * secret is whatever is current when the row is written, so of two
 * rotations at once the later keeps the earlier's secret, and both secrets
 * handed out sign.
 */
export async function rotateEndpointSecret(
  db: Db,
  id: string,
  change: { secretEncrypted: string; previousExpiresAt: string; updatedAt: string },
): Promise<WebhookEndpoint | undefined> {
  const row = await db
    .updateTable('webhook_endpoints')
    .set((eb) => ({
      previous_secret_encrypted: eb.ref('secret_encrypted'),
      previous_secret_expires_at: change.previousExpiresAt,
      secret_encrypted: change.secretEncrypted,
      updated_at: change.updatedAt,
    }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  return row && toEndpoint(row);
}

/** Deletes an endpoint and (by cascade) its deliveries; false when it was already gone. */
export async function deleteEndpoint(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhook_endpoints').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows === 1n;
}

/** Ids of the enabled endpoints of an environment that take events of `type` (no event types: every type). */
export async function subscribedEndpointIds(
  trx: Transaction<Database>,
  environmentId: string,
  type: WebhookEventType,
): Promise<string[]> {
  const rows = await trx
    .selectFrom('webhook_endpoints')
    .select(['id', 'event_types'])
    .where('environment_id', '=', environmentId)
    .where('enabled', '=', flag(true))
    .orderBy('id')
    .execute();
  return rows
    .filter((r) => {
      const types = JSON.parse(r.event_types) as WebhookEventType[];
      return types.length === 0 || types.includes(type);
    })
    .map((r) => r.id);
}

export interface NewWebhookEvent {
  id: string;
  accountId: string;
  environmentId: string;
  type: WebhookEventType;
  payload: string;
  dedupeKey: string | null;
  createdAt: string;
}

/**
 * Inserts an event into the outbox; false when its dedupe key is taken (the
 * notice exists already: another instance, or an earlier pass, wrote it).
 * On PostgreSQL a concurrent insert of the same key waits for the first to
 * commit and then inserts nothing.
 */
export async function insertEvent(trx: Transaction<Database>, event: NewWebhookEvent): Promise<boolean> {
  const inserted = await trx
    .insertInto('webhook_events')
    .values({
      id: event.id,
      account_id: event.accountId,
      environment_id: event.environmentId,
      type: event.type,
      payload: event.payload,
      dedupe_key: event.dedupeKey,
      created_at: event.createdAt,
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Which of these dedupe keys the outbox holds already. */
export async function existingDedupeKeys(db: Db, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db.selectFrom('webhook_events').select('dedupe_key').where('dedupe_key', 'in', keys).execute();
  return new Set(rows.map((r) => r.dedupe_key!));
}

export interface NewDelivery {
  id: string;
  eventId: string;
  endpointId: string;
  environmentId: string;
  /** When the first attempt is due (the worker's queue orders by it). */
  at: string;
}

/** Queues deliveries: PENDING, no attempt made, the first due at once. */
export async function insertDeliveries(db: Db, deliveries: readonly NewDelivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  await db
    .insertInto('webhook_deliveries')
    .values(
      deliveries.map((d) => ({
        id: d.id,
        event_id: d.eventId,
        endpoint_id: d.endpointId,
        environment_id: d.environmentId,
        status: 'PENDING' as const,
        attempts: 0,
        next_attempt_at: d.at,
        last_attempt_at: null,
        last_response_status: null,
        last_error: null,
        claimed_by: null,
        claimed_until: null,
        created_at: d.at,
      })),
    )
    .execute();
}

/** Deliveries with their events' type and body, and their endpoints' account (for tenancy checks). */
async function withEvents(db: Db, rows: readonly WebhookDeliveryRow[]): Promise<WebhookDelivery[]> {
  if (rows.length === 0) return [];
  const events = await db
    .selectFrom('webhook_events')
    .select(['id', 'type', 'payload', 'account_id'])
    .where('id', 'in', [...new Set(rows.map((r) => r.event_id))])
    .execute();
  const byId = new Map(events.map((e) => [e.id, e]));
  return rows.map((row) => {
    const event = byId.get(row.event_id)!;
    return {
      id: row.id,
      eventId: row.event_id,
      endpointId: row.endpoint_id,
      accountId: event.account_id,
      environmentId: row.environment_id,
      eventType: event.type,
      payload: event.payload,
      status: row.status,
      attempts: row.attempts,
      nextAttemptAt: row.next_attempt_at,
      lastAttemptAt: row.last_attempt_at,
      lastResponseStatus: row.last_response_status,
      lastError: row.last_error,
      createdAt: row.created_at,
    };
  });
}

/** An endpoint's deliveries, newest first: the page is taken from its index, then its events are read. */
export async function listDeliveries(db: Db, endpointId: string, page: PageRequest): Promise<WebhookDelivery[]> {
  const rows = await fetchPage(
    db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId),
    page,
    'desc',
  );
  return withEvents(db, rows);
}

export function countDeliveries(db: Db, endpointId: string): Promise<number> {
  return countRows(db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', endpointId));
}

export async function findDelivery(db: Db, id: string): Promise<WebhookDelivery | undefined> {
  const row = await db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? (await withEvents(db, [row]))[0] : undefined;
}
