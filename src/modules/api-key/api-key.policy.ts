import type { RequestContext } from '../../context.js';
import { forbidden, immutableKey } from '../../shared/errors.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { canActOnScope, type Grants, isOwnerOnlyKeyType, keyGrants } from '../permission/permission.model.js';
import { integrationTypeOfKey } from './api-key.integration.js';
import { storedScopes } from './api-key.repository.js';
import type { ApiKeyRow } from './api-key.table.js';

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
export function assertMutableFor(action: KeyAction, key: Pick<ApiKeyRow, 'type'>): void {
  if (key.type === 'SCOPED') return;
  if (action === 'rescope') throw immutableKey(`The scope of a ${key.type} key is fixed; only scoped keys can be re-scoped.`);
  if (action === 'revoke') throw immutableKey(`${key.type} keys cannot be revoked; rotate them instead.`);
}

/**
 * The no-escalation rule (SPEC §4), for every lifecycle path: the caller needs
 * `api_keys:write`; an API key may act only on keys whose permissions are all
 * its own, and never on the full access key or an integration key (owners
 * do that). Throws FORBIDDEN naming what is missing.
 */
export async function authorizeKeyAction(
  ctx: RequestContext,
  grants: Grants,
  action: KeyAction,
  target: ApiKeyRow,
): Promise<void> {
  assertGranted(grants, P.apiKeysWrite);
  if (ctx.principal.kind !== 'API_KEY') return;
  if (isOwnerOnlyKeyType(target.type)) {
    throw forbidden(
      `An API key cannot ${VERB[action]} the ${target.type === 'FULL_ACCESS' ? 'full access key' : 'integration key'}; an account owner can.`,
    );
  }
  const targetGrants = keyGrants({
    type: target.type,
    scopes: storedScopes(target),
    integrationType: await integrationTypeOfKey(ctx.loaders.integration, target),
  });
  assertWithinScope(grants, targetGrants, `${VERB[action]} this key`);
}

/** FORBIDDEN unless every permission in `wanted` is held. */
export function assertWithinScope(grants: Grants, wanted: Iterable<string>, what: string): void {
  const wantedSet = new Set(wanted);
  if (canActOnScope(grants, wantedSet)) return;
  const missing = [...wantedSet].filter((p) => !grants.has(p));
  throw forbidden(`Cannot ${what}: it would need permissions you do not hold (${missing.join(', ')}).`);
}
