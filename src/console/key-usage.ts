/// <reference lib="dom" />
import type { ApiKeyFieldsFragment } from '../client/generated/graphql.js';
import { isKeyInUse } from '../shared/key-in-use.js';
import { h } from './dom.js';
import { formatDate, formatRelative } from './labels.js';

export interface KeyUsage {
  usage: 'in-use' | 'used' | 'unused';
  text: string;
}

function ago(iso: string, now: Date): string {
  return now.getTime() - new Date(iso).getTime() < 60_000 ? 'less than a minute ago' : formatRelative(iso, now.getTime());
}

/**
 * For a key in its grace period: is a service still using it? "Still in use"
 * by the rule the `api_key.expiring` webhook states as `inUse` (a request in
 * the last 15 minutes), so whoever rotated it updates that service before the
 * old key stops working. `rotatedAt` (when known) tells a use before the
 * rotation from one since. Null for keys not in a grace period.
 */
export function describeExpiringKeyUsage(
  key: Pick<ApiKeyFieldsFragment, 'status' | 'lastUsedAt'>,
  now: Date,
  rotatedAt: string | null = null,
): KeyUsage | null {
  if (key.status !== 'EXPIRING_SOON') return null;
  const { lastUsedAt } = key;
  if (isKeyInUse(lastUsedAt, now)) return { usage: 'in-use', text: `Still in use: last used ${ago(lastUsedAt!, now)}` };
  if (!lastUsedAt) return { usage: 'unused', text: 'Not used since rotation' };
  if (rotatedAt && new Date(lastUsedAt) < new Date(rotatedAt)) {
    return { usage: 'unused', text: `Not used since rotation (last used ${ago(lastUsedAt, now)})` };
  }
  return { usage: 'used', text: `Last used ${ago(lastUsedAt, now)}` };
}

/** The usage line under an expiring key's status (nothing for other keys); its title gives the exact time. */
export function expiringKeyUsage(
  key: Pick<ApiKeyFieldsFragment, 'status' | 'lastUsedAt'>,
  options: { rotatedAt?: string | null; testid?: string } = {},
): HTMLElement | null {
  const described = describeExpiringKeyUsage(key, new Date(), options.rotatedAt);
  if (!described) return null;
  return h(
    'span',
    {
      class: `key-usage key-usage-${described.usage}`,
      testid: options.testid ?? 'key-usage',
      'data-usage': described.usage,
      title: key.lastUsedAt ? `Last used ${formatDate(key.lastUsedAt, { seconds: true })}` : undefined,
    },
    described.text,
  );
}
