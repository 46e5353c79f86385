import type { WebhookDeliveryStatus, WebhookEventType } from './webhook.table.js';

/** A receiver of an environment's events, as the application sees a `webhook_endpoints` row (webhook.repository.ts maps it). */
export interface WebhookEndpoint {
  id: string;
  accountId: string;
  environmentId: string;
  url: string;
  description: string | null;
  /** Empty means every type. */
  eventTypes: WebhookEventType[];
  enabled: boolean;
  /** The `whsec_…` secret, sealed with the endpoint id as associated data; never the plaintext. */
  secretEncrypted: string;
  /** The secret before the last rotation (sealed the same way), signing too until `previousSecretExpiresAt`. */
  previousSecretEncrypted: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One event to one endpoint, with the event it carries. */
export interface WebhookDelivery {
  id: string;
  /** The event's id: the `webhook-id` header of every attempt, and of every redelivery. */
  eventId: string;
  endpointId: string;
  accountId: string;
  environmentId: string;
  eventType: WebhookEventType;
  /** The JSON body sent, as stored. */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastResponseStatus: number | null;
  lastError: string | null;
  createdAt: string;
}
