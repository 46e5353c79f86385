import { DAY, HOUR } from '../../shared/clock.js';
import type { ApiKeyRow, ApiKeyType } from './api-key.table.js';

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

type StatusFields = Pick<ApiKeyRow, 'expires_at' | 'revoked_at'>;

/** Computed from the clock, never stored: right the instant a grace period ends. */
export function keyStatus(key: StatusFields, now: Date): ApiKeyStatus {
  if (key.revoked_at) return 'EXPIRED';
  if (!key.expires_at) return 'ACTIVE';
  const left = new Date(key.expires_at).getTime() - now.getTime();
  if (left <= 0) return 'EXPIRED';
  return left <= EXPIRING_SOON_WINDOW_MS ? 'EXPIRING_SOON' : 'ACTIVE';
}

/** Whether the key may authenticate right now. */
export function canAuthenticate(key: StatusFields & Pick<ApiKeyRow, 'deleted_at'>, now: Date): boolean {
  return !key.deleted_at && keyStatus(key, now) !== 'EXPIRED';
}

export function keyCategory(type: ApiKeyType): ApiKeyCategory {
  return type === 'SCOPED' ? 'SCOPED' : 'DEFAULT';
}

export const TYPES_BY_CATEGORY: Record<ApiKeyCategory, ApiKeyType[]> = {
  DEFAULT: ['FULL_ACCESS', 'PUBLISHABLE', 'INTEGRATION'],
  SCOPED: ['SCOPED'],
};
