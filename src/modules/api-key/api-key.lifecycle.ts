import type { Transaction } from 'kysely';
import type { RequestContext } from '../../context.js';
import type { Database } from '../../database/database.js';
import { badInput, conflict, immutableKey, notFound, planUpgradeRequired } from '../../shared/errors.js';
import { optionalText, requireText } from '../../shared/validation.js';
import { recordKeyEvent } from '../audit/key-audit.repository.js';
import type { KeyAuditEventType } from '../audit/key-audit.table.js';
import { resolveEnvironment } from '../environment/environment.service.js';
import { assertGranted } from '../permission/permission.assert.js';
import { expand, normaliseScopes } from '../permission/permission.model.js';
import { assertMutableFor, assertWithinScope, authorizeKeyAction, type KeyAction } from './api-key.policy.js';
import { type KeyPatch, lockKey, storedScopes, updateKey } from './api-key.repository.js';
import { type IssuedKey, issueKey, KEY_NEEDS, reachKey } from './api-key.service.js';
import { GRACE_PERIODS, type GracePeriod, keyStatus } from './api-key.status.js';
import type { ApiKeyRow } from './api-key.table.js';

export const KEY_NAME_MAX = 100;
export const KEY_DESCRIPTION_MAX = 500;

/** Validates a requested scope: non-empty, known names, no duplicates; adds implied reads. */
function parseScopes(requested: readonly string[]): string[] {
  if (requested.length === 0) throw badInput('scopes', 'must name at least one permission.');
  const { scopes, unknown, duplicates } = normaliseScopes(requested);
  if (unknown.length) throw badInput('scopes', `unknown permission${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}.`);
  if (duplicates.length)
    throw badInput('scopes', `duplicate permission${duplicates.length > 1 ? 's' : ''}: ${duplicates.join(', ')}.`);
  return scopes!;
}

/** Makes the request's loader serve the row as it is after the change. */
function refresh(ctx: RequestContext, row: ApiKeyRow): ApiKeyRow {
  ctx.loaders.apiKey.clear(row.id).prime(row.id, row);
  return row;
}

interface LockedKey {
  trx: Transaction<Database>;
  key: ApiKeyRow;
  now: Date;
  /** Applies a patch and writes its audit event in the same transaction; returns the updated row. */
  apply(patch: KeyPatch, event: KeyAuditEventType, details?: Record<string, unknown> | null): Promise<ApiKeyRow>;
}

/**
 * Runs a lifecycle change on one key: reach (NOT_FOUND across tenants), then
 * in one transaction lock the row, authorise against its fresh state, change
 * it and record the audit event. Concurrent calls on a key queue on the lock.
 */
async function changeKey<T>(
  ctx: RequestContext,
  id: string,
  action: KeyAction,
  change: (locked: LockedKey) => Promise<T>,
  /** Further IMMUTABLE_KEY checks of this action (a rename, say). */
  assertMutable: (key: ApiKeyRow) => void = () => {},
): Promise<T> {
  const { grants } = await reachKey(ctx, id);
  let changed = false;
  const result = await ctx.db.transaction().execute(async (trx) => {
    const key = await lockKey(trx, id, ctx.deps.database.dialect);
    if (!key) throw notFound('API key');
    // Who may manage keys at all, then what no caller may do to this key (IMMUTABLE_KEY,
    // whoever asks), then whether this caller may act on it (no escalation).
    assertGranted(grants, KEY_NEEDS.write);
    assertMutableFor(action, key);
    assertMutable(key);
    await authorizeKeyAction(ctx, grants, action, key, trx);
    const now = ctx.clock.now();
    const apply: LockedKey['apply'] = async (patch, event, details = null) => {
      await updateKey(trx, key.id, patch);
      // Other instances drop their cached copy when this commits (PostgreSQL NOTIFY).
      await ctx.deps.keyCache.announce(trx, key.id);
      changed = true;
      await recordKeyEvent(trx, {
        keyId: key.id,
        environmentId: key.environment_id,
        event,
        actor: ctx.principal.actor,
        details,
        at: now,
      });
      const updated: ApiKeyRow = { ...key, ...patch, scopes: patch.scopes ? JSON.stringify(patch.scopes) : key.scopes };
      return refresh(ctx, updated);
    };
    return change({ trx, key, now, apply });
  });
  // Committed: this instance refuses the old state from the very next request.
  if (changed) ctx.deps.keyCache.invalidate(id);
  return result;
}

function assertNotExpired(key: ApiKeyRow, now: Date, what: string): void {
  if (keyStatus(key, now) === 'EXPIRED')
    throw conflict(`The key is ${key.revoked_at ? 'revoked' : 'expired'}; it cannot be ${what}.`);
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
  const scopes = parseScopes(input.scopes);
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, KEY_NEEDS.write);
  assertWithinScope(grants, expand(scopes), 'create this key');
  const account = await ctx.loaders.account.load(env.account_id);
  if (account?.plan !== 'SCALE') {
    throw planUpgradeRequired(`Scoped keys need the SCALE plan; this account is on ${account?.plan ?? 'an unknown plan'}.`);
  }
  const issued = await ctx.db.transaction().execute((trx) =>
    issueKey(trx, ctx.deps, {
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
): Promise<ApiKeyRow> {
  const name = input.name == null ? undefined : requireText('name', input.name, KEY_NAME_MAX);
  const description =
    input.description === undefined ? undefined : optionalText('description', input.description, KEY_DESCRIPTION_MAX);
  const assertRenamable = (key: ApiKeyRow) => {
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
export async function updateApiKeyScopes(
  ctx: RequestContext,
  input: { id: string; scopes: readonly string[] },
): Promise<ApiKeyRow> {
  const scopes = parseScopes(input.scopes);
  return changeKey(ctx, input.id, 'rescope', async ({ key, now, apply }) => {
    assertNotExpired(key, now, 're-scoped');
    if (key.rotated_to_id) throw conflict('The key has been rotated; change the scope of its replacement.');
    if (ctx.principal.kind === 'API_KEY') assertWithinScope(ctx.principal.grants, expand(scopes), 'give this scope');
    const before = storedScopes(key) ?? [];
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
  previous: ApiKeyRow;
}

/**
 * rotateApiKey: a new key with the same type, name, description and scope;
 * the old one expires after the grace period (an earlier expiry stands).
 */
export async function rotateApiKey(
  ctx: RequestContext,
  input: { id: string; expireOldKeyIn: GracePeriod },
): Promise<RotationResult> {
  return changeKey(ctx, input.id, 'rotate', async ({ trx, key, now, apply }) => {
    assertNotExpired(key, now, 'rotated');
    if (key.rotated_to_id) throw conflict('The key has already been rotated.');
    const requested = graceExpiry(now, input.expireOldKeyIn);
    const expiresAt = key.expires_at && new Date(key.expires_at) < requested ? new Date(key.expires_at) : requested;
    const issued = await issueKey(trx, ctx.deps, {
      accountId: key.account_id,
      environmentId: key.environment_id,
      type: key.type,
      name: key.name,
      description: key.description,
      scopes: storedScopes(key),
      integrationId: key.integration_id,
      rotatedFromId: key.id,
      actor: ctx.principal.actor,
      now,
    });
    if (key.integration_id) {
      await trx.updateTable('integrations').set({ api_key_id: issued.row.id }).where('id', '=', key.integration_id).execute();
      ctx.loaders.integration.clear(key.integration_id);
    }
    const previous = await apply({ rotated_to_id: issued.row.id, expires_at: expiresAt.toISOString() }, 'KEY_ROTATED', {
      rotatedTo: issued.row.id,
      gracePeriod: input.expireOldKeyIn,
      oldKeyExpiresAt: expiresAt.toISOString(),
      previousExpiresAt: key.expires_at,
    });
    refresh(ctx, issued.row);
    return { issued, previous };
  });
}

/** changeGracePeriod: only for a key that is expiring soon; the new expiry counts from now. */
export async function changeGracePeriod(ctx: RequestContext, input: { id: string; expireIn: GracePeriod }): Promise<ApiKeyRow> {
  return changeKey(ctx, input.id, 'changeGrace', async ({ key, now, apply }) => {
    if (keyStatus(key, now) !== 'EXPIRING_SOON') {
      throw conflict(`Only a key that is expiring soon has a grace period to change; this key is ${keyStatus(key, now)}.`);
    }
    const expiresAt = graceExpiry(now, input.expireIn).toISOString();
    return apply({ expires_at: expiresAt }, 'GRACE_PERIOD_CHANGED', {
      gracePeriod: input.expireIn,
      expiresAt,
      previousExpiresAt: key.expires_at,
    });
  });
}

/** revokeApiKey: scoped keys only; immediate and irreversible. */
export async function revokeApiKey(ctx: RequestContext, input: { id: string }): Promise<ApiKeyRow> {
  return changeKey(ctx, input.id, 'revoke', async ({ key, now, apply }) => {
    assertNotExpired(key, now, 'revoked');
    return apply({ revoked_at: now.toISOString() }, 'KEY_REVOKED');
  });
}

/** ApiKey.secret: decrypts the key for those allowed to mint it, and records the reveal. */
export async function revealApiKeySecret(ctx: RequestContext, id: string): Promise<string> {
  return changeKey(ctx, id, 'reveal', async ({ trx, key, now }) => {
    await recordKeyEvent(trx, {
      keyId: key.id,
      environmentId: key.environment_id,
      event: 'KEY_REVEALED',
      actor: ctx.principal.actor,
      at: now,
    });
    return ctx.deps.secretBox.open(key.secret_encrypted, key.id);
  });
}
