import type { Transaction } from 'kysely';
import type { RequestContext } from '../../context.js';
import type { Database } from '../../database/database.js';
import { ErrorCode, immutableKey, KeygateError } from '../../shared/errors.js';
import { canActOnScope, type Grants, isOwnerOnlyKeyType, keyGrants } from '../permission/permission.model.js';
import { integrationTypeOfKey } from './api-key.integration.js';
import type { ApiKey } from './api-key.model.js';

/** What a caller wants to do to an existing key. */
export type KeyAction = 'update' | 'rescope' | 'rotate' | 'changeGrace' | 'revoke' | 'reveal';

const VERB: Record<KeyAction, string> = {
  update: 'edit',
  rescope: 're-scope',
  rotate: 'rotate',
  changeGrace: 'change the grace period of',
  revoke: 'revoke',
  reveal: 'reveal',
};

/** Only scoped keys can be re-scoped or revoked; default keys are replaced by rotation. */
export function assertMutableFor(action: KeyAction, key: Pick<ApiKey, 'type'>): void {
  if (key.type === 'SCOPED') return;
  if (action === 'rescope') throw immutableKey(`The scope of a ${key.type} key is fixed; only scoped keys can be re-scoped.`);
  if (action === 'revoke') throw immutableKey(`${key.type} keys cannot be revoked; rotate them instead.`);
}

/**
 * The no-escalation rule (SPEC §4), for every lifecycle path, once the caller
 * holds `api_keys:write` and the key can take the change at all (changeKey
 * checks both first, in that order): an API key
 * may act only on keys whose permissions are all its own, and never on the
 * full access key or an integration key (owners do that). Throws FORBIDDEN
 * naming what is missing.
 */
export async function authorizeKeyAction(
  ctx: RequestContext,
  grants: Grants,
  action: KeyAction,
  target: ApiKey,
  /** The transaction holding the key's lock: on SQLite it holds the only connection, so reads go through it. */
  trx: Transaction<Database>,
): Promise<void> {
  if (ctx.principal.kind !== 'API_KEY') return;
  const targetGrants = keyGrants(
    { type: target.type, scopes: target.scopes, integrationType: await integrationTypeOfKey(trx, target) },
    ctx.deps.gateway.catalogue,
  );
  if (isOwnerOnlyKeyType(target.type)) {
    const missing = [...targetGrants].filter((p) => !grants.has(p));
    const label = target.type === 'FULL_ACCESS' ? 'full access key' : 'integration key';
    throw new KeygateError(
      ErrorCode.FORBIDDEN,
      `An API key cannot ${VERB[action]} the ${label}; an account owner can.` +
        (missing.length ? ` Missing permission: ${missing.join(' and ')}.` : ''),
      missing.length ? { requiredPermissions: missing } : {},
    );
  }
  assertWithinScope(grants, targetGrants, `${VERB[action]} this key`);
}

/** FORBIDDEN unless every permission in `wanted` is held. */
export function assertWithinScope(grants: Grants, wanted: Iterable<string>, what: string): void {
  const wantedSet = new Set(wanted);
  if (canActOnScope(grants, wantedSet)) return;
  const missing = [...wantedSet].filter((p) => !grants.has(p));
  throw new KeygateError(
    ErrorCode.FORBIDDEN,
    `Cannot ${what}: it would need permissions you do not hold. Missing permission: ${missing.join(' and ')}.`,
    { requiredPermissions: missing },
  );
}
