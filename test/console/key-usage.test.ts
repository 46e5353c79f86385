import { describe, expect, it } from 'vitest';
import { describeExpiringKeyUsage } from '../../src/console/key-usage.js';
import { HOUR, MINUTE, SECOND } from '../../src/shared/clock.js';

const now = new Date('2026-06-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const expiring = (lastUsedAt: string | null) => ({ status: 'EXPIRING_SOON' as const, lastUsedAt });

describe('describeExpiringKeyUsage (the keys page’s line under an expiring key)', () => {
  it('says "still in use" for a use in the last 15 minutes, before or after the rotation', () => {
    expect(describeExpiringKeyUsage(expiring(ago(10 * SECOND)), now)).toEqual({
      usage: 'in-use',
      text: 'Still in use: last used less than a minute ago',
    });
    expect(describeExpiringKeyUsage(expiring(ago(15 * MINUTE)), now, ago(MINUTE))).toEqual({
      usage: 'in-use',
      text: 'Still in use: last used 15 minutes ago',
    });
  });

  it('gives the last use once it is older than 15 minutes, and says when it predates the rotation', () => {
    expect(describeExpiringKeyUsage(expiring(ago(16 * MINUTE)), now)).toEqual({
      usage: 'used',
      text: 'Last used 16 minutes ago',
    });
    expect(describeExpiringKeyUsage(expiring(ago(3 * HOUR)), now, ago(4 * HOUR))).toEqual({
      usage: 'used',
      text: 'Last used 3 hours ago',
    });
    expect(describeExpiringKeyUsage(expiring(ago(3 * HOUR)), now, ago(2 * HOUR))).toEqual({
      usage: 'unused',
      text: 'Not used since rotation (last used 3 hours ago)',
    });
  });

  it('says "not used since rotation" for a key never used, and nothing for keys outside a grace period', () => {
    expect(describeExpiringKeyUsage(expiring(null), now)).toEqual({ usage: 'unused', text: 'Not used since rotation' });
    expect(describeExpiringKeyUsage({ status: 'ACTIVE', lastUsedAt: ago(SECOND) }, now)).toBeNull();
    expect(describeExpiringKeyUsage({ status: 'EXPIRED', lastUsedAt: ago(SECOND) }, now)).toBeNull();
  });
});
