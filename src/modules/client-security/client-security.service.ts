import { randomBytes } from 'node:crypto';
import { MAX_CUSTOMER_TOKEN_LENGTH, verifyCustomerToken } from '../../client/customer-token.js';
import type { RequestContext } from '../../context.js';
import type { HeaderLines } from '../../plugins/header-lines.js';
import { KeygateError } from '../../shared/errors.js';
import { resolveEnvironment } from '../auth/tenancy.js';
import { updateEnvironmentSecurity } from '../environment/environment.repository.js';
import { ENVIRONMENT_NEEDS } from '../environment/environment.service.js';
import type { EnvironmentRow } from '../environment/environment.table.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import type { Grants } from '../permission/permission.model.js';

/** Headers a customer token travels in: Keygate's own, and the one the platform's browser SDK sends. */
export const CUSTOMER_TOKEN_HEADERS = ['x-customer-token', 'x-customer-key'] as const;

/** Two different customer tokens in one request: refused like a bad token (SPEC §5). */
export const CONFLICTING_CUSTOMER_TOKENS: unique symbol = Symbol('conflicting customer tokens');

/** The customer token a request carries: none, one, or two that differ. */
export type SentCustomerToken = string | null | typeof CONFLICTING_CUSTOMER_TOKENS;

/**
 * The customer token sent with a request, from every line of both headers
 * (length-capped; the verifier rejects longer ones). The same token repeated
 * is one token; two different ones cannot both be meant.
 */
export function customerTokenOf(lines: HeaderLines): SentCustomerToken {
  let token: string | null = null;
  for (const header of CUSTOMER_TOKEN_HEADERS) {
    for (const line of lines(header)) {
      const value = line.length > MAX_CUSTOMER_TOKEN_LENGTH ? line.slice(0, MAX_CUSTOMER_TOKEN_LENGTH + 1) : line.trim();
      if (token !== null && value !== token) return CONFLICTING_CUSTOMER_TOKENS;
      token = value;
    }
  }
  return token;
}

const invalidToken = (message: string) => new KeygateError('INVALID_CUSTOMER_TOKEN', message);

/**
 * The customer a request's token was verified for (SPEC §5): null when none
 * came and the environment does not enforce client-side security; throws
 * INVALID_CUSTOMER_TOKEN for a token that does not verify, for two different
 * tokens, and for a missing one under ENFORCED.
 */
export function verifiedCustomerOf(ctx: RequestContext, env: EnvironmentRow): string | null {
  const token = ctx.customerToken;
  if (token === CONFLICTING_CUSTOMER_TOKENS) {
    throw invalidToken('Two different customer tokens were sent (X-Customer-Token, X-Customer-Key): send one.');
  }
  if (token === null) {
    if (env.client_side_security === 'ENFORCED') {
      throw invalidToken('This environment enforces client-side security: send an X-Customer-Token signed for this customer.');
    }
    return null;
  }
  const check = verifyCustomerToken(token, ctx.deps.secretBox.open(env.signing_secret_encrypted, env.id), ctx.clock.now());
  if (!check.ok)
    throw invalidToken(`The customer token is ${check.reason === 'expired' ? 'expired' : 'not valid for this environment'}.`);
  return check.customerId;
}

/**
 * SPEC §5, in one place: a caller that reads customers only through the
 * client-safe scope (the publishable key) must show a customer token for
 * exactly this customer when the environment enforces client-side security;
 * a token it sends is always verified, enforced or not. Callers with
 * `customers:read` (server keys, users) do not need one and their tokens are
 * ignored.
 */
export async function authorizeCustomerRead(
  ctx: RequestContext,
  env: EnvironmentRow,
  grants: Grants,
  customerId: string,
): Promise<void> {
  if (grants.has(P.customersRead)) return;
  const verified = verifiedCustomerOf(ctx, env);
  if (verified !== null && verified !== customerId) throw invalidToken('The customer token was signed for another customer.');
}

/** setClientSideSecurity: owners and the full access key. */
export async function setClientSideSecurity(ctx: RequestContext, input: { environmentId?: string | null; enforced: boolean }) {
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, ENVIRONMENT_NEEDS.manage);
  const client_side_security = input.enforced ? ('ENFORCED' as const) : ('NOT_ENFORCED' as const);
  await updateEnvironmentSecurity(ctx.db, env.id, { client_side_security });
  return refreshed(ctx, { ...env, client_side_security });
}

/** rotateSigningSecret: a new secret at once; tokens signed with the old one stop verifying. */
export async function rotateSigningSecret(ctx: RequestContext, input: { environmentId?: string | null }) {
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, ENVIRONMENT_NEEDS.manage);
  const signing_secret_encrypted = ctx.deps.secretBox.seal(randomBytes(32).toString('hex'), env.id);
  await updateEnvironmentSecurity(ctx.db, env.id, { signing_secret_encrypted });
  return refreshed(ctx, { ...env, signing_secret_encrypted });
}

function refreshed(ctx: RequestContext, env: EnvironmentRow): EnvironmentRow {
  ctx.loaders.environment.clear(env.id).prime(env.id, env);
  return env;
}
