import type { Transaction } from 'kysely';
import type { Database } from '../../database/database.js';
import { newId } from '../../shared/ids.js';
import type { KeyChange } from '../api-key/api-key.change.js';
import type { ApiKey } from '../api-key/api-key.model.js';
import { findKeysByIds } from '../api-key/api-key.repository.js';
import type { Actor } from '../audit/actor.js';
import type { WebhookEndpoint } from './webhook.model.js';
import { dueExpiryNotice, inUse, keySummary, webhookBody } from './webhook.payload.js';
import { insertDeliveries, insertEvent, subscribedEndpointIds } from './webhook.repository.js';
import type { WebhookEventType } from './webhook.table.js';

/** Every event type but `webhook.test`, which goes only to the endpoint it tests. */
export type BroadcastEventType = Exclude<WebhookEventType, 'webhook.test'>;

export interface OutboxEvent {
  accountId: string;
  environmentId: string;
  type: BroadcastEventType;
  /** The body's `data`; never a secret. */
  data: Record<string, unknown>;
  at: Date;
  /** Makes the event exist once (scheduled notices); a second emit with the same key writes nothing. */
  dedupeKey?: string | null;
}

/**
 * Writes an event into the outbox and queues one PENDING delivery to each
 * enabled endpoint of its environment that takes its type, in the caller's
 * transaction: the change that causes the event commits with it or not at
 * all, so no event is lost in a crash and none is sent for a change that
 * rolled back. The delivery worker picks the deliveries up. An event no
 * endpoint takes is not stored (a new environment's keys, say), unless it
 * has a dedupe key: a notice is then recorded as given, whoever receives
 * it. Returns the event id, or null when nothing was written.
 */
export async function emitWebhookEvent(trx: Transaction<Database>, event: OutboxEvent): Promise<string | null> {
  const endpoints = await subscribedEndpointIds(trx, event.environmentId, event.type);
  if (endpoints.length === 0 && !event.dedupeKey) return null;
  const id = newId('wev');
  const at = event.at.toISOString();
  const inserted = await insertEvent(trx, {
    id,
    accountId: event.accountId,
    environmentId: event.environmentId,
    type: event.type,
    payload: webhookBody(event.type, event.at, event.data),
    dedupeKey: event.dedupeKey ?? null,
    createdAt: at,
  });
  if (!inserted) return null;
  await insertDeliveries(
    trx,
    endpoints.map((endpointId) => ({ id: newId('whd'), eventId: id, endpointId, environmentId: event.environmentId, at })),
  );
  return id;
}

/** `webhook.test`: an event for one endpoint only, queued whatever event types it takes; returns its delivery's id. */
export async function emitTestEvent(
  trx: Transaction<Database>,
  endpoint: WebhookEndpoint,
  actor: Actor,
  at: Date,
): Promise<string> {
  const eventId = newId('wev');
  const deliveryId = newId('whd');
  await insertEvent(trx, {
    id: eventId,
    accountId: endpoint.accountId,
    environmentId: endpoint.environmentId,
    type: 'webhook.test',
    payload: webhookBody('webhook.test', at, {
      environmentId: endpoint.environmentId,
      endpoint: { id: endpoint.id, url: endpoint.url },
      actor: actorOf(actor),
    }),
    dedupeKey: null,
    createdAt: at.toISOString(),
  });
  await insertDeliveries(trx, [
    { id: deliveryId, eventId, endpointId: endpoint.id, environmentId: endpoint.environmentId, at: at.toISOString() },
  ]);
  return deliveryId;
}

const actorOf = (actor: Actor) => ({ type: actor.type, id: actor.id, displayName: actor.displayName });

/**
 * The `data` of a key's event: its environment, the key, the keys it was
 * rotated to and from (null when none), and who acted.
 */
export async function keyEventData(
  trx: Transaction<Database>,
  key: ApiKey,
  at: Date,
  actor: Actor,
): Promise<Record<string, unknown>> {
  const linkedIds = [key.rotatedToId, key.rotatedFromId].filter((id): id is string => id !== null);
  const linked = new Map((await findKeysByIds(trx, linkedIds)).map((k) => [k.id, k]));
  const summary = (id: string | null) => {
    const other = id ? linked.get(id) : undefined;
    return other ? keySummary(other, at) : null;
  };
  return {
    environmentId: key.environmentId,
    apiKey: keySummary(key, at),
    rotatedTo: summary(key.rotatedToId),
    rotatedFrom: summary(key.rotatedFromId),
    actor: actorOf(actor),
  };
}

/**
 * The expiry notice a key is due at `at`, if any (webhook.payload.ts), with
 * `inUse`: written once per key, window and expiry whoever tries first.
 * Returns whether this call wrote it.
 */
export async function emitDueExpiryNotice(trx: Transaction<Database>, key: ApiKey, at: Date, actor: Actor): Promise<boolean> {
  const notice = dueExpiryNotice(key, at);
  if (!notice) return false;
  const data = { ...(await keyEventData(trx, key, at, actor)), inUse: inUse(key, at), window: notice.window };
  const id = await emitWebhookEvent(trx, {
    accountId: key.accountId,
    environmentId: key.environmentId,
    type: notice.type,
    data,
    at,
    dedupeKey: notice.dedupeKey,
  });
  return id !== null;
}

/**
 * The webhook events of one key change, written in its transaction (called
 * by the key-change unit for every change it records):
 *
 * - KEY_CREATED → `api_key.created`, except a rotation's new key (the old
 *   key's `api_key.rotated` names it) and an integration's key (the
 *   integration service sends `integration.connected`);
 * - KEY_ROTATED → `api_key.rotated`, then the expiry notice the grace period
 *   is already due (ONE_DAY: the 24 h one, ONE_HOUR: the 1 h one, NOW:
 *   `api_key.expired`);
 * - GRACE_PERIOD_CHANGED → the expiry notice the new expiry is already due;
 * - SCOPE_UPDATED → `api_key.scopes_updated` with what was added and removed;
 * - KEY_REVOKED → `api_key.revoked`, except a disconnection's
 *   (`integration.disconnected`).
 */
export async function emitKeyChangeEvents(trx: Transaction<Database>, change: KeyChange): Promise<void> {
  const key = change.after;
  const emit = async (type: BroadcastEventType, extra: Record<string, unknown> = {}) => {
    const data = { ...(await keyEventData(trx, key, change.at, change.actor)), ...extra };
    await emitWebhookEvent(trx, { accountId: key.accountId, environmentId: key.environmentId, type, data, at: change.at });
  };
  switch (change.event) {
    case 'KEY_CREATED':
      if (!key.rotatedFromId && !key.integrationId) await emit('api_key.created');
      return;
    case 'KEY_ROTATED':
      await emit('api_key.rotated');
      await emitDueExpiryNotice(trx, key, change.at, change.actor);
      return;
    case 'GRACE_PERIOD_CHANGED':
      await emitDueExpiryNotice(trx, key, change.at, change.actor);
      return;
    case 'SCOPE_UPDATED':
      await emit('api_key.scopes_updated', {
        scopes: { added: change.details?.added ?? [], removed: change.details?.removed ?? [], current: key.scopes ?? [] },
      });
      return;
    case 'KEY_REVOKED':
      if (change.details?.reason !== 'INTEGRATION_DISCONNECTED') await emit('api_key.revoked');
      return;
    default:
      return;
  }
}
