import { describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS, parseRetrySchedule } from '../../src/config.js';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelayMs } from '../../src/modules/webhook/webhook.retry.js';
import { DAY, HOUR, MINUTE, SECOND } from '../../src/shared/clock.js';

/** When a failed webhook attempt is tried again (SPEC §10); parsing the configured schedule is test/shared/config.test.ts's. */
describe('retry schedule', () => {
  it('defaults to 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(parseRetrySchedule({}).map((s) => s * SECOND)).toEqual([
      5 * SECOND,
      5 * MINUTE,
      30 * MINUTE,
      2 * HOUR,
      5 * HOUR,
      10 * HOUR,
      10 * HOUR,
    ]);
    expect(parseRetrySchedule({})).toEqual(DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS);
  });

  it('waits the step of the attempt that failed, and gives up after the last', () => {
    const schedule = [5, 300];
    expect(retryDelayMs(1, schedule, null)).toBe(5 * SECOND);
    expect(retryDelayMs(2, schedule, null)).toBe(300 * SECOND);
    expect(retryDelayMs(3, schedule, null)).toBeNull();
    expect(retryDelayMs(1, [], null)).toBeNull();
  });

  it('waits for Retry-After when it is longer than the step, at most a day', () => {
    expect(retryDelayMs(1, [5], 60 * SECOND)).toBe(60 * SECOND);
    expect(retryDelayMs(1, [5], 1 * SECOND)).toBe(5 * SECOND);
    expect(retryDelayMs(1, [5], 30 * DAY)).toBe(MAX_RETRY_AFTER_MS);
    // Retry-After never adds an attempt after the last.
    expect(retryDelayMs(2, [5], 60 * SECOND)).toBeNull();
  });

  const now = new Date('2026-06-01T12:00:00.000Z');
  it.each([
    ['120', 120 * SECOND],
    [' 0 ', 0],
    ['Mon, 01 Jun 2026 12:05:00 GMT', 5 * MINUTE],
    ['Mon, 01 Jun 2026 11:00:00 GMT', 0],
  ])('reads Retry-After: %s', (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });

  it.each([undefined, '', 'soon', '-5', '1.5e3'])('ignores Retry-After: %s', (header) => {
    expect(parseRetryAfter(header, now)).toBeNull();
  });
});
