import type {
  ActivityOutcome,
  ApiKeyCategory,
  ApiKeyStatus,
  ApiKeyType,
  GracePeriod,
  IntegrationType,
  KeyAuditEventType,
  Plan,
  Role,
  WebhookDeliveryStatus,
  WebhookEventType,
} from '../client/generated/graphql.js';

/** What people read for each generated enum value; `Record` keeps every value covered when the schema grows. */
export const KEY_TYPE_LABEL: Record<ApiKeyType, string> = {
  FULL_ACCESS: 'Full access',
  PUBLISHABLE: 'Publishable',
  SCOPED: 'Scoped',
  INTEGRATION: 'Integration',
};

export const CATEGORY_LABEL: Record<ApiKeyCategory, string> = { DEFAULT: 'Default', SCOPED: 'Scoped' };

export const STATUS_LABEL: Record<ApiKeyStatus, string> = {
  ACTIVE: 'Active',
  EXPIRING_SOON: 'Expiring soon',
  EXPIRED: 'Expired',
};

/** The Status filter's wording. */
export const STATUS_FILTER_LABEL: Record<ApiKeyStatus, string> = {
  ACTIVE: 'Active',
  EXPIRING_SOON: 'Expires soon',
  EXPIRED: 'Expired',
};

/** Grace choices in the order they are offered. */
export const GRACE_CHOICES: readonly { value: GracePeriod; label: string }[] = [
  { value: 'NOW', label: 'Now' },
  { value: 'ONE_HOUR', label: 'In 1 hour' },
  { value: 'ONE_DAY', label: 'In 24 hours' },
  { value: 'THREE_DAYS', label: 'In 3 days' },
  { value: 'SEVEN_DAYS', label: 'In 7 days' },
];

export const AUDIT_EVENT_LABEL: Record<KeyAuditEventType, string> = {
  KEY_CREATED: 'Key created',
  KEY_ROTATED: 'Key rotated',
  SCOPE_UPDATED: 'Permissions updated',
  KEY_REVOKED: 'Key revoked',
  KEY_REVEALED: 'Secret revealed',
  KEY_UPDATED: 'Key updated',
  GRACE_PERIOD_CHANGED: 'Grace period changed',
};

export const OUTCOME_LABEL: Record<ActivityOutcome, string> = { SUCCESS: 'Success', DENIED: 'Denied', ERROR: 'Error' };

export const INTEGRATION_LABEL: Record<IntegrationType, string> = {
  SALESFORCE: 'Salesforce',
  HUBSPOT: 'HubSpot',
  ZAPIER: 'Zapier',
};

/** The event types as receivers see them (the body's `type`), with what each one means. */
export const WEBHOOK_EVENT_LABEL: Record<WebhookEventType, { name: string; description: string }> = {
  API_KEY_CREATED: { name: 'api_key.created', description: 'A key was created.' },
  API_KEY_ROTATED: { name: 'api_key.rotated', description: 'A key was rotated; the old one works until its grace period ends.' },
  API_KEY_REVOKED: { name: 'api_key.revoked', description: 'A key was revoked and stopped working.' },
  API_KEY_SCOPES_UPDATED: { name: 'api_key.scopes_updated', description: 'A key’s permissions changed.' },
  API_KEY_EXPIRING: {
    name: 'api_key.expiring',
    description: 'A key stops working within 24 hours, then within 1 hour; says whether it is still in use.',
  },
  API_KEY_EXPIRED: { name: 'api_key.expired', description: 'A key’s grace period ended.' },
  INTEGRATION_CONNECTED: { name: 'integration.connected', description: 'An integration was connected.' },
  INTEGRATION_DISCONNECTED: { name: 'integration.disconnected', description: 'An integration was disconnected.' },
  WEBHOOK_TEST: { name: 'webhook.test', description: 'Sent only by Send test.' },
};

export const DELIVERY_STATUS_LABEL: Record<WebhookDeliveryStatus, string> = {
  PENDING: 'Pending',
  SUCCEEDED: 'Delivered',
  FAILED: 'Failed',
};

export const PLAN_LABEL: Record<Plan, string> = { FREE: 'Free', GROWTH: 'Growth', SCALE: 'Scale' };

export const ROLE_LABEL: Record<Role, string> = { OWNER: 'Owner', MEMBER: 'Member', READ_ONLY: 'Read-only' };

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** A date and time, e.g. "Jun 1, 2026, 12:00 PM". */
export function formatDate(iso: string, options: { seconds?: boolean } = {}): string {
  return (options.seconds ? dateTimeSeconds : dateTime).format(new Date(iso));
}

/** How far away an instant is, e.g. "in 59 minutes" or "3 days ago". */
export function formatRelative(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
  ];
  for (const [unit, size] of steps) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(seconds, 'second');
}

/** "customers" → "Customers", "api_keys" → "API keys", "event_queue" → "Event queue". */
export function resourceLabel(resource: string): string {
  const words = resource.split('_').map((w) => (w === 'api' ? 'API' : w));
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
