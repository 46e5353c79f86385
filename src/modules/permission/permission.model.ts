import type { Role } from '../account/account.table.js';
import type { ApiKeyType } from '../api-key/api-key.table.js';
import { CAPABILITIES, CATALOGUE, CATALOGUE_NAMES, CLIENT_PERMISSIONS, isCataloguePermission } from './permission.catalogue.js';

/** What a principal may do: an expanded set of permissions and capabilities. */
export type Grants = ReadonlySet<string>;

/** The fixed scope of the publishable key (SPEC §5). */
export const PUBLISHABLE_SCOPE: readonly string[] = [CLIENT_PERMISSIONS.customersPublic, CLIENT_PERMISSIONS.subscriptionsPublic];

/** Fixed scope per integration type (documented in the README). */
export const INTEGRATION_SCOPES = {
  SALESFORCE: ['customers:write', 'subscriptions:read'],
  HUBSPOT: ['customers:write'],
  ZAPIER: ['customers:read', 'subscriptions:write', 'coupons:read'],
} as const satisfies Record<string, readonly string[]>;
export type IntegrationType = keyof typeof INTEGRATION_SCOPES;

/** Adds what a permission implies: `x:write` ⇒ `x:read` ⇒ `x:read_public` (where defined). */
export function expand(permissions: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const p of permissions) {
    out.add(p);
    const [res, access] = p.split(':');
    if (access === 'write') out.add(`${res}:read`);
    if (access === 'write' || access === 'read') {
      const pub = `${res}:read_public`;
      if ((Object.values(CLIENT_PERMISSIONS) as string[]).includes(pub)) out.add(pub);
    }
  }
  return out;
}

/**
 * Normalises a requested scope for storage: rejects unknown and duplicate
 * names (naming them) and adds implied reads. Returns catalogue order.
 */
export function normaliseScopes(requested: readonly string[]): { scopes?: string[]; unknown: string[]; duplicates: string[] } {
  const unknown = requested.filter((p) => !isCataloguePermission(p));
  const duplicates = requested.filter((p, i) => requested.indexOf(p) !== i);
  if (unknown.length || duplicates.length) return { unknown, duplicates: [...new Set(duplicates)] };
  const withImplied = expand(requested);
  return { scopes: CATALOGUE_NAMES.filter((n) => withImplied.has(n)), unknown: [], duplicates: [] };
}

const ALL_READS = CATALOGUE.filter((p) => p.access === 'READ').map((p) => p.name);
const RESOURCE_WRITES = ['customers:write', 'subscriptions:write', 'coupons:write'];

/** Users' permissions by role (SPEC §4), within the accounts they belong to. */
const ROLE_GRANTS: Record<Role, Grants> = {
  OWNER: expand([...CATALOGUE_NAMES, CAPABILITIES.readEnvironment, CAPABILITIES.manageEnvironment, CAPABILITIES.manageAccount]),
  MEMBER: expand([...ALL_READS, ...RESOURCE_WRITES, CAPABILITIES.readEnvironment]),
  READ_ONLY: expand([...ALL_READS, CAPABILITIES.readEnvironment]),
};

export function roleGrants(role: Role): Grants {
  return ROLE_GRANTS[role];
}

export interface KeyScopeSource {
  type: ApiKeyType;
  /** Stored scope of a scoped key. */
  scopes: readonly string[] | null;
  integrationType: IntegrationType | null;
  /**
   * The key has a successor (`rotatedTo`): it keeps its resource permissions
   * until it expires but no longer manages keys (SPEC §3), so a leaked secret
   * answered by rotation can neither outlive its successor nor reveal it.
   */
  rotated?: boolean;
}

/** The catalogue permissions of a set, in catalogue order. */
function inCatalogueOrder(permissions: ReadonlySet<string>): string[] {
  return CATALOGUE_NAMES.filter((name) => permissions.has(name));
}

/**
 * The scope a key shows (`ApiKey.scopes`, `viewer.permissions`). The full
 * access key's is the catalogue as it is now, so new permissions reach it
 * without a data change.
 */
export function keyScopes(key: KeyScopeSource): string[] {
  switch (key.type) {
    case 'FULL_ACCESS':
      return [...CATALOGUE_NAMES];
    case 'PUBLISHABLE':
      return [...PUBLISHABLE_SCOPE];
    case 'SCOPED':
      return [...(key.scopes ?? [])];
    case 'INTEGRATION':
      if (!key.integrationType) return [];
      return inCatalogueOrder(expand(INTEGRATION_SCOPES[key.integrationType]));
  }
}

/** Everything a key may do: its scope, what it implies, and the capabilities of its type. */
export function keyGrants(key: KeyScopeSource): Grants {
  const grants = expand(keyScopes(key));
  // Server-side keys see their environment; the publishable key reads only what SPEC §5 lists.
  if (key.type !== 'PUBLISHABLE') grants.add(CAPABILITIES.readEnvironment);
  if (key.type === 'FULL_ACCESS') grants.add(CAPABILITIES.manageEnvironment);
  if (key.rotated) grants.delete('api_keys:write');
  return grants;
}

/** Scope-auth and directive form: outer list = any of, inner list = all of. */
export type ScopeRequirement = readonly (readonly string[])[];

export function satisfies(grants: Grants, requirement: ScopeRequirement): boolean {
  return requirement.some((all) => all.every((p) => grants.has(p)));
}

/** The permissions missing for the closest alternative, for FORBIDDEN messages. */
export function missingFor(grants: Grants, requirement: ScopeRequirement): string[] {
  let best: string[] | null = null;
  for (const all of requirement) {
    const missing = all.filter((p) => !grants.has(p));
    if (!best || missing.length < best.length) best = missing;
  }
  return best ?? [];
}

/**
 * No escalation (SPEC §4): a caller may mint, rotate, re-scope or reveal a
 * credential only if everything that credential can do, the caller can do.
 */
export function canActOnScope(callerGrants: Grants, targetGrants: Grants): boolean {
  for (const p of targetGrants) if (!callerGrants.has(p)) return false;
  return true;
}

/** Keys no API key may rotate or reveal, whatever its scope: only owners may. */
export function isOwnerOnlyKeyType(type: ApiKeyType): boolean {
  return type === 'FULL_ACCESS' || type === 'INTEGRATION';
}
