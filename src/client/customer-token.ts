import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseDuration } from '../shared/duration.js';

/**
 * Customer tokens let a browser holding only the publishable key read one
 * customer. Backends sign them with the environment's signing secret.
 *
 * Two forms are accepted:
 *
 * - Platform form (no expiry), compatible with the platform's published helper:
 *   `HMAC-SHA256 <customerId>:<hex>` where
 *   `hex = HMAC-SHA256(signingSecret, customerId)`.
 * - Expiring form: `HMAC-SHA256-EXP <customerId>:<expiresAt>:<hex>` where
 *   `expiresAt` is Unix seconds and
 *   `hex = HMAC-SHA256(signingSecret, "keygate-customer-token-v1\n" + customerId + "\n" + expiresAt)`.
 *   The expiry is inside the MAC and the input is domain-separated from the
 *   platform form, so neither form can be turned into the other.
 */
export const CUSTOMER_TOKEN_FORMS = { platform: 'HMAC-SHA256', expiring: 'HMAC-SHA256-EXP' } as const;

const EXPIRING_DOMAIN = 'keygate-customer-token-v1';
const HEX_MAC = /^[0-9a-f]{64}$/;
/** Longest token worth parsing; anything longer is rejected without work. */
export const MAX_CUSTOMER_TOKEN_LENGTH = 1024;

function mac(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}

function expiringMessage(customerId: string, expiresAt: number): string {
  return `${EXPIRING_DOMAIN}\n${customerId}\n${expiresAt}`;
}

function toSeconds(expiresIn: number | string): number {
  return typeof expiresIn === 'number' ? expiresIn : parseDuration(expiresIn);
}

export interface CreateCustomerTokenOptions {
  /** Seconds, or a duration like `15m`, `12h`, `7d`. Omit for the platform form without expiry. */
  expiresIn?: number | string;
  /** The current time (for tests); defaults to now. */
  now?: Date;
}

/** Signs a customer token for the browser (run this on your backend, never in the browser). */
export function createCustomerToken(customerId: string, secret: string, options: CreateCustomerTokenOptions = {}): string {
  if (options.expiresIn === undefined) return `${CUSTOMER_TOKEN_FORMS.platform} ${customerId}:${mac(secret, customerId)}`;
  const seconds = toSeconds(options.expiresIn);
  if (!Number.isInteger(seconds) || seconds <= 0) throw new Error('expiresIn must be a positive whole number of seconds.');
  const expiresAt = Math.floor((options.now ?? new Date()).getTime() / 1000) + seconds;
  return `${CUSTOMER_TOKEN_FORMS.expiring} ${customerId}:${expiresAt}:${mac(secret, expiringMessage(customerId, expiresAt))}`;
}

function equalHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

export type CustomerTokenCheck =
  | { ok: true; customerId: string; expiresAt: Date | null }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

/** Verifies a token against a secret (constant-time MAC comparison) and the clock. */
export function verifyCustomerToken(token: string, secret: string, now: Date): CustomerTokenCheck {
  if (token.length > MAX_CUSTOMER_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const space = token.indexOf(' ');
  const form = token.slice(0, space);
  const body = token.slice(space + 1);
  const lastColon = body.lastIndexOf(':');
  if (space < 0 || lastColon < 0) return { ok: false, reason: 'malformed' };
  const hex = body.slice(lastColon + 1);
  if (!HEX_MAC.test(hex)) return { ok: false, reason: 'malformed' };
  const signed = body.slice(0, lastColon);

  if (form === CUSTOMER_TOKEN_FORMS.platform) {
    if (!signed) return { ok: false, reason: 'malformed' };
    return equalHex(hex, mac(secret, signed))
      ? { ok: true, customerId: signed, expiresAt: null }
      : { ok: false, reason: 'bad_signature' };
  }
  if (form === CUSTOMER_TOKEN_FORMS.expiring) {
    const colon = signed.lastIndexOf(':');
    const customerId = signed.slice(0, colon);
    const expiresText = signed.slice(colon + 1);
    if (colon <= 0 || !/^\d{1,12}$/.test(expiresText)) return { ok: false, reason: 'malformed' };
    const expiresAt = Number(expiresText);
    if (!equalHex(hex, mac(secret, expiringMessage(customerId, expiresAt)))) return { ok: false, reason: 'bad_signature' };
    if (now.getTime() >= expiresAt * 1000) return { ok: false, reason: 'expired' };
    return { ok: true, customerId, expiresAt: new Date(expiresAt * 1000) };
  }
  return { ok: false, reason: 'malformed' };
}
