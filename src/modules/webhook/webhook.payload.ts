import { DAY, HOUR, MINUTE } from '../../shared/clock.js';
import type { ApiKey } from '../api-key/api-key.model.js';
import { maskKey } from '../api-key/api-key.secret.js';
import { KEY_PREFIX } from '../api-key/api-key.service.js';
import { type ApiKeyStatus, keyStatus } from '../api-key/api-key.status.js';
import type { ApiKeyType } from '../api-key/api-key.table.js';
import type { WebhookEventType } from './webhook.table.js';

/**
 * What an event says (SPEC §10). Every field is picked by name from the key:
 * nothing secret (digest, ciphertext) can ride along by accident.
 */
export interface KeySummary {
  id: string;
  name: string;
  type: ApiKeyType;
  maskedKey: string;
  status: ApiKeyStatus;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export function keySummary(key: ApiKey, at: Date): KeySummary {
  return {
    id: key.id,
    name: key.name,
    type: key.type,
    maskedKey: maskKey(KEY_PREFIX[key.type], key.last4),
    status: keyStatus(key, at),
    expiresAt: key.expiresAt,
    lastUsedAt: key.lastUsedAt,
  };
}

/** The body sent: `{"type","timestamp","data"}`, serialised once and stored as sent. */
export function webhookBody(type: WebhookEventType, at: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data });
}

/** A key that authenticated a request this recently is "in use": a service still holds its secret. */
export const IN_USE_WINDOW_MS = 15 * MINUTE;

/** Whether the key authenticated a request in the last 15 minutes (lastUsedAt is written about once a minute). */
export function inUse(key: Pick<ApiKey, 'lastUsedAt'>, at: Date): boolean {
  return key.lastUsedAt !== null && at.getTime() - new Date(key.lastUsedAt).getTime() <= IN_USE_WINDOW_MS;
}

/** The windows before an expiry in which `api_key.expiring` is sent, narrowest first. */
export const EXPIRY_WINDOWS = [
  { name: '1h', ms: HOUR },
  { name: '24h', ms: DAY },
] as const;
export type ExpiryWindow = (typeof EXPIRY_WINDOWS)[number]['name'];

/** How far back the scheduler looks for expiries that passed without their notice (Keygate was down). */
export const EXPIRED_NOTICE_LOOKBACK_MS = 7 * DAY;

export interface ExpiryNotice {
  type: 'api_key.expiring' | 'api_key.expired';
  /** The window an `api_key.expiring` notice is for. */
  window: ExpiryWindow | null;
  /**
   * One notice per key, window and expiry: the outbox's unique dedupe key
   * makes it exist once, whoever writes it first (the change's transaction,
   * or any instance's scheduler). A new expiry (a grace change) is a new notice.
   */
  dedupeKey: string;
}

/**
 * The notice a key is due at `at`: expired once its expiry has passed,
 * expiring in the narrowest window its expiry falls in (so a key that
 * enters the 1 h window without ever having been in the 24 h one, a
 * ONE_HOUR rotation, gets only the 1 h notice), or none. Revoked keys get
 * none: their revocation was the notice (`api_key.revoked`).
 */
export function dueExpiryNotice(
  key: Pick<ApiKey, 'id' | 'expiresAt' | 'revokedAt' | 'deletedAt'>,
  at: Date,
): ExpiryNotice | null {
  if (!key.expiresAt || key.revokedAt || key.deletedAt) return null;
  const left = new Date(key.expiresAt).getTime() - at.getTime();
  if (left <= 0) return { type: 'api_key.expired', window: null, dedupeKey: `api_key.expired:${key.id}:${key.expiresAt}` };
  const window = EXPIRY_WINDOWS.find((w) => left <= w.ms);
  if (!window) return null;
  return {
    type: 'api_key.expiring',
    window: window.name,
    dedupeKey: `api_key.expiring:${window.name}:${key.id}:${key.expiresAt}`,
  };
}
