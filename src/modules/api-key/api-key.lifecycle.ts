import type { RequestContext } from '../../context.js';
import { badInput, conflict, immutableKey, notFound, planUpgradeRequired } from '../../shared/errors.js';
import { optionalText, requireText } from '../../shared/validation.js';
import type { KeyAuditEventType } from '../audit/key-audit.table.js';
import { resolveEnvironment } from '../auth/tenancy.js';
import { setIntegrationKey } from '../integration/integration.repository.js';
import { assertGranted } from '../permission/permission.assert.js';
import { expand, normaliseScopes } from '../permission/permission.model.js';
import { changeKeys, type IssuedKey, type KeyChanges } from './api-key.change.js';
import type { ApiKey } from './api-key.model.js';
import { assertMutableFor, assertWithinScope, authorizeKeyAction, type KeyAction } from './api-key.policy.js';
import type { KeyPatch } from './api-key.repository.js';
import { KEY_NEEDS, reachKey } from './api-key.service.js';
import { GRACE_PERIODS, type GracePeriod, keyStatus } from './api-key.status.js';

export const KEY_NAME_MAX = 100;
export const KEY_DESCRIPTION_MAX = 500;

/** Validates a requested scope: non-empty, known names, no duplicates; adds implied reads. */
function parseScopes(ctx: RequestContext, requested: readonly string[]): string[] {
  if (requested.length === 0) throw badInput('scopes', 'must name at least one permission.');
  const { scopes, unknown, duplicates } = normaliseScopes(requested, ctx.deps.gateway.catalogue);
  if (unknown.length) throw badInput('scopes', `unknown permission${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}.`);
  if (duplicates.length)
    throw badInput('scopes', `duplicate permission${duplicates.length > 1 ? 's' : ''}: ${duplicates.join(', ')}.`);
  return scopes!;
}

/** Makes the request's loader serve the key as it is after the change. */
function refresh(ctx: RequestContext, key: ApiKey): ApiKey {
  ctx.loaders.apiKey.clear(key.id).prime(key.id, key);
  return key;
}

interface LockedKey {
  keys: KeyChanges;
  key: ApiKey;
  now: Date;
  /** Applies a patch through the key-change unit, by this caller, now; returns the updated key. */
  apply(patch: KeyPatch, event: KeyAuditEventType, details?: Record<string, unknown> | null): Promise<ApiKey>;
}

/**
 * Runs a lifecycle change on one key: reach (NOT_FOUND across tenants), then
 * in one key-change transaction lock the row, authorise against its fresh
 * state and change it. Concurrent calls on a key queue on the lock.
 */
async function changeKey<T>(
  ctx: RequestContext,
  id: string,
  action: KeyAction,
  change: (locked: LockedKey) => Promise<T>,
  /** Further IMMUTABLE_KEY checks of this action (a rename, say). */
  assertMutable: (key: ApiKey) => void = () => {},
): Promise<T> {
  const { grants } = await reachKey(ctx, id);
  return changeKeys(ctx.deps, async (keys) => {
    const key = await keys.lock(id);
    if (!key) throw notFound('API key');
    // Who may manage keys at all, then what no caller may do to this key (IMMUTABLE_KEY,
    // whoever asks), then whether this caller may act on it (no escalation).
    assertGranted(grants, KEY_NEEDS.write);
    assertMutableFor(action, key);
    assertMutable(key);
    await authorizeKeyAction(ctx, grants, action, key, keys.trx);
    const now = ctx.clock.now();
    const apply: LockedKey['apply'] = async (patch, event, details) =>
      refresh(ctx, await keys.apply(key, patch, { event, details, actor: ctx.principal.actor, at: now }));
    return change({ keys, key, now, apply });
  });
}

function assertNotExpired(key: ApiKey, now: Date, what: string): void {
  if (keyStatus(key, now) === 'EXPIRED')
    throw conflict(`The key is ${key.revokedAt ? 'revoked' : 'expired'}; it cannot be ${what}.`);
}

export interface CreateScopedKeyInput {
  environmentId?: string | null;
  name: string;
  description?: string | null;
  scopes: readonly string[];
}

/** createScopedKey: SCALE plan only; the caller must hold every permission it gives. */
export async function createScopedKey(ctx: RequestContext, input: CreateScopedKeyInput): Promise<IssuedKey> {
  const name = requireText('name', input.name, KEY_NAME_MAX);
  const description = optionalText('description', input.description, KEY_DESCRIPTION_MAX);
  const scopes = parseScopes(ctx, input.scopes);
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, KEY_NEEDS.write);
  assertWithinScope(grants, expand(scopes, ctx.deps.gateway.catalogue), 'create this key');
  const account = await ctx.loaders.account.load(env.account_id);
  if (account?.plan !== 'SCALE') {
    throw planUpgradeRequired(`Scoped keys need the SCALE plan; this account is on ${account?.plan ?? 'an unknown plan'}.`);
  }
  const issued = await changeKeys(ctx.deps, (keys) =>
    keys.issue({
      accountId: env.account_id,
      environmentId: env.id,
      type: 'SCOPED',
      name,
      description,
      scopes,
      actor: ctx.principal.actor,
      now: ctx.clock.now(),
      createdDetails: { scopes },
    }),
  );
  refresh(ctx, issued.row);
  return issued;
}

/** updateApiKey: descriptions of any key; names of scoped keys only. */
export async function updateApiKey(
  ctx: RequestContext,
  input: { id: string; name?: string | null; description?: string | null },
): Promise<ApiKey> {
  const name = input.name == null ? undefined : requireText('name', input.name, KEY_NAME_MAX);
  const description =
    input.description === undefined ? undefined : optionalText('description', input.description, KEY_DESCRIPTION_MAX);
  const assertRenamable = (key: ApiKey) => {
    if (name !== undefined && name !== key.name && key.type !== 'SCOPED') {
      throw immutableKey(`${key.type} keys keep their name; only scoped keys can be renamed.`);
    }
  };
  return changeKey(
    ctx,
    input.id,
    'update',
    async ({ key, apply }) => {
      const details: Record<string, unknown> = {};
      if (name !== undefined && name !== key.name) details.name = { from: key.name, to: name };
      if (description !== undefined && description !== key.description)
        details.description = { from: key.description, to: description };
      if (Object.keys(details).length === 0) return key;
      return apply(
        { name: name ?? key.name, description: description === undefined ? key.description : description },
        'KEY_UPDATED',
        details,
      );
    },
    assertRenamable,
  );
}

/** updateApiKeyScopes: scoped keys only; the caller must hold both the old and the new scope. */
export async function updateApiKeyScopes(ctx: RequestContext, input: { id: string; scopes: readonly string[] }): Promise<ApiKey> {
  const scopes = parseScopes(ctx, input.scopes);
  return changeKey(ctx, input.id, 'rescope', async ({ key, now, apply }) => {
    assertNotExpired(key, now, 're-scoped');
    if (key.rotatedToId) throw conflict('The key has been rotated; change the scope of its replacement.');
    if (ctx.principal.kind === 'API_KEY')
      assertWithinScope(ctx.principal.grants, expand(scopes, ctx.deps.gateway.catalogue), 'give this scope');
    const before = key.scopes ?? [];
    const added = scopes.filter((p) => !before.includes(p));
    const removed = before.filter((p) => !scopes.includes(p));
    if (added.length === 0 && removed.length === 0) return key;
    return apply({ scopes }, 'SCOPE_UPDATED', { added, removed });
  });
}

function graceExpiry(now: Date, grace: GracePeriod): Date {
  return new Date(now.getTime() + GRACE_PERIODS[grace]);
}

export interface RotationResult {
  issued: IssuedKey;
  previous: ApiKey;
}

/**
 * rotateApiKey: a new key with the same type, name, description and scope;
 * the old one expires after the grace period (an earlier expiry stands).
 */
export async function rotateApiKey(
  ctx: RequestContext,
  input: { id: string; expireOldKeyIn: GracePeriod },
): Promise<RotationResult> {
  return changeKey(ctx, input.id, 'rotate', async ({ keys, key, now, apply }) => {
    assertNotExpired(key, now, 'rotated');
    if (key.rotatedToId) throw conflict('The key has already been rotated.');
    const requested = graceExpiry(now, input.expireOldKeyIn);
    const expiresAt = key.expiresAt && new Date(key.expiresAt) < requested ? new Date(key.expiresAt) : requested;
    const issued = await keys.issue({
      accountId: key.accountId,
      environmentId: key.environmentId,
      type: key.type,
      name: key.name,
      description: key.description,
      scopes: key.scopes,
      integrationId: key.integrationId,
      rotatedFromId: key.id,
      actor: ctx.principal.actor,
      now,
    });
    if (key.integrationId) {
      await setIntegrationKey(keys.trx, key.integrationId, issued.row.id);
      ctx.loaders.integration.clear(key.integrationId);
    }
    const previous = await apply({ rotatedToId: issued.row.id, expiresAt: expiresAt.toISOString() }, 'KEY_ROTATED', {
      rotatedTo: issued.row.id,
      gracePeriod: input.expireOldKeyIn,
      oldKeyExpiresAt: expiresAt.toISOString(),
      previousExpiresAt: key.expiresAt,
    });
    refresh(ctx, issued.row);
    return { issued, previous };
  });
}

/** changeGracePeriod: only for a key that is expiring soon; the new expiry counts from now. */
export async function changeGracePeriod(ctx: RequestContext, input: { id: string; expireIn: GracePeriod }): Promise<ApiKey> {
  return changeKey(ctx, input.id, 'changeGrace', async ({ key, now, apply }) => {
    if (keyStatus(key, now) !== 'EXPIRING_SOON') {
      throw conflict(`Only a key that is expiring soon has a grace period to change; this key is ${keyStatus(key, now)}.`);
    }
    const expiresAt = graceExpiry(now, input.expireIn).toISOString();
    return apply({ expiresAt }, 'GRACE_PERIOD_CHANGED', {
      gracePeriod: input.expireIn,
      expiresAt,
      previousExpiresAt: key.expiresAt,
    });
  });
}

/** revokeApiKey: scoped keys only; immediate and irreversible. */
export async function revokeApiKey(ctx: RequestContext, input: { id: string }): Promise<ApiKey> {
  return changeKey(ctx, input.id, 'revoke', async ({ key, now, apply }) => {
    assertNotExpired(key, now, 'revoked');
    return apply({ revokedAt: now.toISOString() }, 'KEY_REVOKED');
  });
}

/** ApiKey.secret: decrypts the key for those allowed to mint it, and records the reveal. */
export async function revealApiKeySecret(ctx: RequestContext, id: string): Promise<string> {
  return changeKey(ctx, id, 'reveal', async ({ keys, key, now }) => {
    await keys.record(key, { event: 'KEY_REVEALED', actor: ctx.principal.actor, at: now });
    return ctx.deps.secretBox.open(key.secretEncrypted, key.id);
  });
}
