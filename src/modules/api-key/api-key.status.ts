import { DAY, HOUR } from '../../shared/clock.js';
import type { ApiKey } from './api-key.model.js';
import type { ApiKeyType } from './api-key.table.js';

export type ApiKeyStatus = 'ACTIVE' | 'EXPIRING_SOON' | 'EXPIRED';
export type ApiKeyCategory = 'DEFAULT' | 'SCOPED';

export const GRACE_PERIODS = {
  NOW: 0,
  ONE_HOUR: HOUR,
  ONE_DAY: DAY,
  THREE_DAYS: 3 * DAY,
  SEVEN_DAYS: 7 * DAY,
} as const;
export type GracePeriod = keyof typeof GRACE_PERIODS;

/** An expiry further away than the longest grace window does not count as "soon". */
export const EXPIRING_SOON_WINDOW_MS = GRACE_PERIODS.SEVEN_DAYS;

type StatusFields = Pick<ApiKey, 'expiresAt' | 'revokedAt'>;

/** Computed from the clock, never stored: right the instant a grace period ends. */
export function keyStatus(key: StatusFields, now: Date): ApiKeyStatus {
  if (key.revokedAt) return 'EXPIRED';
  if (!key.expiresAt) return 'ACTIVE';
  const left = new Date(key.expiresAt).getTime() - now.getTime();
  if (left <= 0) return 'EXPIRED';
  return left <= EXPIRING_SOON_WINDOW_MS ? 'EXPIRING_SOON' : 'ACTIVE';
}

/** Whether the key may authenticate right now. */
export function canAuthenticate(key: StatusFields & Pick<ApiKey, 'deletedAt'>, now: Date): boolean {
  return !key.deletedAt && keyStatus(key, now) !== 'EXPIRED';
}

export function keyCategory(type: ApiKeyType): ApiKeyCategory {
  return type === 'SCOPED' ? 'SCOPED' : 'DEFAULT';
}
