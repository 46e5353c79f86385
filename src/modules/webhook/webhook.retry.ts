import { DAY, SECOND } from '../../shared/clock.js';

/** The longest a receiver's `Retry-After` may push an attempt back: a receiver cannot park a delivery for ever. */
export const MAX_RETRY_AFTER_MS = DAY;

/**
 * A `Retry-After` header in milliseconds from `now`, or null when there is
 * none or it is neither whole seconds nor an HTTP date (RFC 9110 §10.2.3).
 * A date in the past means "now".
 */
export function parseRetryAfter(header: string | undefined, now: Date): number | null {
  const value = header?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value) * SECOND;
  // Every HTTP-date form starts with the day's name ("Sun, 06 Nov 1994 08:49:37 GMT").
  if (!/^[A-Za-z]{3,9},? /.test(value)) return null;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now.getTime());
}

/**
 * How long after a failed attempt the next one is due, or null when it was
 * the last (the delivery is FAILED): the schedule's step for this attempt,
 * or the receiver's `Retry-After` when that is longer (capped at a day).
 * `attemptsMade` counts the attempt that just failed.
 */
export function retryDelayMs(
  attemptsMade: number,
  scheduleSeconds: readonly number[],
  retryAfterMs: number | null,
): number | null {
  const step = scheduleSeconds[attemptsMade - 1];
  if (step === undefined) return null;
  return Math.max(step * SECOND, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}
