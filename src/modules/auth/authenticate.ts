import { LRUCache } from 'lru-cache';
import type { Deps } from '../../deps.js';
import type { HeaderLines } from '../../plugins/header-lines.js';
import { findMembershipsOfUser, findUserByEmail, findUsersByIds } from '../account/account.repository.js';
import { integrationTypeOfKey } from '../api-key/api-key.integration.js';
import type { ApiKey } from '../api-key/api-key.model.js';
import { findKeyByDigest } from '../api-key/api-key.repository.js';
import { digestKey, digestsEqual, isWellFormedKey } from '../api-key/api-key.secret.js';
import { canAuthenticate } from '../api-key/api-key.status.js';
import type { PermissionCatalogue } from '../permission/permission.catalogue.js';
import { type Grants, type IntegrationType, keyGrants } from '../permission/permission.model.js';
import { type ApiKeyPrincipal, type Principal, unionOfRoleGrants } from './principal.js';

/** Longest credential we look at; anything longer is rejected without work. */
const MAX_CREDENTIAL_LENGTH = 4096;

export type Credential = { kind: 'api_key'; value: string } | { kind: 'session'; value: string };

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Reads the one credential of a request: `X-API-Key`, or `Authorization:
 * Bearer` carrying a key (by its prefix) or a session token. Every line of
 * both headers counts: two different credentials at once (in one header
 * repeated or across both) are ambiguous and refused, because a proxy in
 * front may have checked or logged the other one. The same credential
 * repeated names one caller and is accepted, as the same key in both
 * headers always was.
 */
export function readCredential(lines: HeaderLines): Credential | null | 'invalid' {
  const apiKeys = lines('x-api-key');
  const values = apiKeys.map((line) => line.trim());
  for (const authorization of lines('authorization')) {
    const match = BEARER.exec(authorization);
    if (!match?.[1]) return 'invalid';
    values.push(match[1]);
  }
  const value = values[0];
  if (value === undefined) return null;
  if (values.some((other) => other !== value)) return 'invalid';
  if (value.length === 0 || value.length > MAX_CREDENTIAL_LENGTH) return 'invalid';
  if (apiKeys.length > 0 || value.startsWith('server-') || value.startsWith('client-')) return { kind: 'api_key', value };
  return { kind: 'session', value };
}

/** What a scope grants, with the scope itself: one copy shared by every key that holds both. */
interface HeldScope {
  scopes: readonly string[] | null;
  grants: Grants;
}

/**
 * Many keys hold the same few scopes, and each cached key would otherwise
 * carry its own copy of its scope and grants (about 600 bytes). Bounded per
 * catalogue (grants are computed with it); a scope pushed out is copied again
 * by the next key that holds it.
 */
const SHARED_SCOPES = 1000;
const sharedScopesOf = new WeakMap<PermissionCatalogue, LRUCache<string, HeldScope>>();

function heldScope(key: ApiKey, integrationType: IntegrationType | null, catalogue: PermissionCatalogue): HeldScope {
  let shared = sharedScopesOf.get(catalogue);
  if (!shared) {
    shared = new LRUCache({ max: SHARED_SCOPES });
    sharedScopesOf.set(catalogue, shared);
  }
  const rotated = key.rotatedToId !== null;
  const signature = JSON.stringify([key.type, integrationType, rotated, key.scopes]);
  let held = shared.get(signature);
  if (!held) {
    held = { scopes: key.scopes, grants: keyGrants({ type: key.type, scopes: key.scopes, integrationType, rotated }, catalogue) };
    shared.set(signature, held);
  }
  return held;
}

export function principalForKey(
  key: ApiKey,
  integrationType: IntegrationType | null,
  catalogue: PermissionCatalogue,
): ApiKeyPrincipal {
  const { secretEncrypted: _ciphertext, ...verified } = key;
  const { scopes, grants } = heldScope(key, integrationType, catalogue);
  return {
    kind: 'API_KEY',
    key: { ...verified, scopes },
    grants,
    actor: { type: 'API_KEY', id: key.id, displayName: key.name },
  };
}

/** Verifies an API key: format and checksum first (no I/O), then digest lookup and status. */
export async function authenticateKey(deps: Deps, secret: string): Promise<Principal | null> {
  if (!isWellFormedKey(secret)) return null;
  const digest = digestKey(secret);
  let principal = deps.keyCache.get(digest);
  if (!principal) {
    const startedAt = deps.keyCache.begin();
    const key = await findKeyByDigest(deps.db, digest);
    if (!key || !digestsEqual(key.digest, digest) || key.deletedAt) return null;
    // The row's digest equals the looked-up one (just compared): keep one string, the cache's key.
    principal = principalForKey({ ...key, digest }, await integrationTypeOfKey(deps.db, key), deps.gateway.catalogue);
    deps.keyCache.set(digest, principal, startedAt);
  }
  if (!canAuthenticate(principal.key, deps.clock.now())) return null;
  deps.keyUsage.touch(principal.key.id);
  return principal;
}

export async function authenticateSession(deps: Deps, token: string): Promise<Principal | null> {
  const subject = await deps.sessions.subject(token);
  if (!subject) return null;
  const user =
    subject.by === 'id' ? (await findUsersByIds(deps.db, [subject.value]))[0] : await findUserByEmail(deps.db, subject.value);
  if (!user) return null;
  const memberships = await findMembershipsOfUser(deps.db, user.id);
  const roles = new Map(memberships.map((m) => [m.account_id, m.role]));
  return {
    kind: 'USER',
    user,
    roles,
    grants: unionOfRoleGrants(roles.values(), deps.gateway.catalogue),
    catalogue: deps.gateway.catalogue,
    actor: { type: 'USER', id: user.id, displayName: user.email },
  };
}
