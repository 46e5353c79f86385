import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { SecretBox } from '../../shared/secret-box.js';

/** A new signing secret in the Standard Webhooks form: `whsec_` and 24 random bytes, base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * The Standard Webhooks headers of one attempt, signed by the `standardwebhooks`
 * package with every secret given (after a rotation, the new and the previous
 * one for 24 h: `webhook-signature` holds both, space-separated, and a
 * receiver holding either verifies).
 */
export function signatureHeaders(secrets: readonly string[], eventId: string, at: Date, body: string): Record<string, string> {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(eventId, at, body));
  return {
    'webhook-id': eventId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

/**
 * An endpoint's signing secret sealed at rest, bound to the endpoint's id (a
 * sealed secret copied onto another endpoint does not open). A rotation moves
 * the sealed current secret to `previous_secret_encrypted` as it is.
 */
export function sealSigningSecret(box: SecretBox, endpointId: string, secret: string): string {
  return box.seal(secret, endpointId);
}

/** The `whsec_…` secret of `sealSigningSecret`. */
export function openSigningSecret(box: SecretBox, endpointId: string, sealed: string): string {
  return box.open(sealed, endpointId);
}
