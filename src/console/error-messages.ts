import { KeygateClientError } from '../client/keygate-client.js';
import type { ErrorCode } from '../shared/errors.js';
import { h } from './dom.js';

/** A headline per code (SPEC §7); the server's message follows it, so the reader gets the what and the why. */
const HEADLINE: Record<ErrorCode, string> = {
  UNAUTHENTICATED: 'Your session token is not valid or has expired. Sign in again with a fresh token.',
  FORBIDDEN: 'You do not have permission to do this.',
  NOT_FOUND: 'Not found: it may belong to another environment, or no longer exist.',
  BAD_USER_INPUT: 'Please check what you entered.',
  PLAN_UPGRADE_REQUIRED: 'Upgrade needed: scoped keys are available on the Scale plan only.',
  IMMUTABLE_KEY: 'This key cannot be changed: default and integration keys keep a fixed name and scope.',
  CONFLICT: 'That conflicts with the key’s current state (already rotated, revoked or expired?). Reload and try again.',
  INVALID_CUSTOMER_TOKEN: 'The customer token was rejected.',
  RATE_LIMITED: 'Too many requests: wait a moment, then try again.',
  UPSTREAM_UNAVAILABLE: 'A service behind Keygate could not be reached. Try again in a moment.',
  INTERNAL: 'Keygate had a problem answering. Try again; if it persists, quote the request id to your operator.',
};

export interface DescribedError {
  code: ErrorCode | 'NETWORK';
  headline: string;
  detail: string;
}

/** What went wrong, in words, for any error a console action can throw. */
export function describeError(error: unknown): DescribedError {
  if (error instanceof KeygateClientError) {
    const first = error.errors[0];
    const code = error.code;
    return { code, headline: HEADLINE[code] ?? HEADLINE.INTERNAL, detail: first?.message ?? '' };
  }
  if (error instanceof TypeError) {
    return { code: 'NETWORK', headline: 'Keygate could not be reached. Check that it is running.', detail: error.message };
  }
  return { code: 'INTERNAL', headline: HEADLINE.INTERNAL, detail: error instanceof Error ? error.message : String(error) };
}

/** An alert box for an error, with its code; tests find it by `data-testid="error"` and `data-code`. */
export function errorBox(error: unknown, onDismiss?: () => void): HTMLElement {
  const { code, headline, detail } = describeError(error);
  return h(
    'div',
    { class: 'alert alert-error', role: 'alert', testid: 'error', 'data-code': code },
    h('span', { class: 'alert-code' }, code),
    h('div', { class: 'alert-text' }, h('strong', {}, headline), detail && detail !== headline ? h('p', {}, detail) : null),
    onDismiss ? h('button', { class: 'alert-close', 'aria-label': 'Dismiss', onclick: onDismiss }, '×') : null,
  );
}
