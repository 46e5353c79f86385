import type { Selectable } from 'kysely';

/** SPEC §10's events, as the body's `type`; the GraphQL enum `WebhookEventType` names them in upper case. */
export const WEBHOOK_EVENT_TYPES = [
  'api_key.created',
  'api_key.rotated',
  'api_key.revoked',
  'api_key.scopes_updated',
  'api_key.expiring',
  'api_key.expired',
  'integration.connected',
  'integration.disconnected',
  'webhook.test',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_DELIVERY_STATUSES = ['PENDING', 'SUCCEEDED', 'FAILED'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** A receiver of an environment's events. */
export interface WebhookEndpointTable {
  /** `whe_…` */
  id: string;
  account_id: string;
  environment_id: string;
  url: string;
  description: string | null;
  /** JSON array of event types; empty means every type. */
  event_types: string;
  /** 1/0 on SQLite, boolean on PostgreSQL. */
  enabled: number | boolean;
  /** The `whsec_…` signing secret, AES-256-GCM under the master key (shared/secret-box.ts), like key secrets. */
  secret_encrypted: string;
  /** The secret before the last rotation, also signing every delivery until `previous_secret_expires_at` (24 h). */
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * The outbox: one row per event, written in the transaction of the change
 * that causes it. `dedupe_key` makes a scheduled notice (an expiry window of
 * one key) exist once, whatever the number of instances.
 */
export interface WebhookEventTable {
  /** `wev_…`, sent as `webhook-id` on every attempt. */
  id: string;
  account_id: string;
  environment_id: string;
  type: WebhookEventType;
  /** The JSON body sent, `{"type","timestamp","data"}`; never a secret. */
  payload: string;
  dedupe_key: string | null;
  created_at: string;
}

/** One event to one endpoint: its attempts, their outcome, and which instance holds it now. */
export interface WebhookDeliveryTable {
  /** `whd_…` */
  id: string;
  event_id: string;
  endpoint_id: string;
  environment_id: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_response_status: number | null;
  /** Why the last attempt failed, in Keygate's words (never the response body, never a secret). */
  last_error: string | null;
  /** The instance making the current attempt, and until when its claim holds (a crashed instance's claim runs out). */
  claimed_by: string | null;
  claimed_until: string | null;
  created_at: string;
}

export type WebhookEndpointRow = Selectable<WebhookEndpointTable>;
export type WebhookEventRow = Selectable<WebhookEventTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveryTable>;
