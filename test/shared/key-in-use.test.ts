import { describe, expect, it } from 'vitest';
import { inUse, IN_USE_WINDOW_MS as WEBHOOK_IN_USE_WINDOW_MS } from '../../src/modules/webhook/webhook.payload.js';
import { MINUTE, SECOND } from '../../src/shared/clock.js';
import { IN_USE_WINDOW_MS, isKeyInUse } from '../../src/shared/key-in-use.js';

const now = new Date('2026-06-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

describe('isKeyInUse (the console’s "still in use")', () => {
  it('counts a key used in the last 15 minutes, up to and including the boundary, and no other', () => {
    expect(isKeyInUse(ago(0), now)).toBe(true);
    expect(isKeyInUse(ago(15 * MINUTE), now)).toBe(true);
    expect(isKeyInUse(ago(15 * MINUTE + 1), now)).toBe(false);
    expect(isKeyInUse(null, now)).toBe(false);
  });

  it('is the rule the expiry webhooks state as inUse, at every boundary', () => {
    expect(IN_USE_WINDOW_MS).toBe(WEBHOOK_IN_USE_WINDOW_MS);
    for (const lastUsedAt of [
      null,
      ago(0),
      ago(SECOND),
      ago(15 * MINUTE - 1),
      ago(15 * MINUTE),
      ago(15 * MINUTE + 1),
      ago(-SECOND),
    ]) {
      expect(isKeyInUse(lastUsedAt, now), String(lastUsedAt)).toBe(inUse({ lastUsedAt }, now));
    }
  });
});
