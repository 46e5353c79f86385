import type { Role } from '../account/account.table.js';
import type { ApiKeyType } from '../api-key/api-key.table.js';
import { CAPABILITIES, type CataloguePermission, P, type Permission, type PermissionCatalogue } from './permission.catalogue.js';

/** What a principal may do: an expanded set of permissions and capabilities. */
export type Grants = ReadonlySet<string>;

/**
 * A permission requirement, the shape of `@requiresScopes`: any one of the
 * alternatives (outer list), each needing all of its permissions (inner
 * list). Built-in requirements are typed (`Requirement<Permission>`);
 * upstream ones are plain strings; `satisfies` checks both.
 */
export type Requirement<T extends string = string> = readonly (readonly T[])[];

/** Declares a requirement: the field gate and the service check of one operation both read it. */
export const needs = (...alternatives: (readonly Permission[])[]): Requirement<Permission> => alternatives;

/** Fixed scope per integration type (documented in the README). */
export const INTEGRATION_SCOPES = {
  SALESFORCE: [P.customersWrite, P.subscriptionsRead],
  HUBSPOT: [P.customersWrite],
  ZAPIER: [P.customersRead, P.subscriptionsWrite, P.couponsRead],
} as const satisfies Record<string, readonly CataloguePermission[]>;
export type IntegrationType = keyof typeof INTEGRATION_SCOPES;

/**
 * Adds what a permission implies: `x:write` ⇒ `x:read` ⇒ `x:read_public`
 * (where the catalogue knows one), for built-in and upstream resources alike.
 */
export function expand(permissions: Iterable<string>, catalogue: PermissionCatalogue): Set<string> {
  const out = new Set<string>();
  for (const p of permissions) {
    out.add(p);
    const [res, access] = p.split(':');
    if (access === 'write') out.add(`${res}:read`);
    if (access === 'write' || access === 'read') {
      const pub = `${res}:read_public`;
      if (catalogue.isPublicRead(pub)) out.add(pub);
    }
  }
  return out;
}

/**
 * Normalises a requested scope for storage: rejects unknown and duplicate
 * names (naming them) and adds implied reads. Returns catalogue order.
 */
export function normaliseScopes(
  requested: readonly string[],
  catalogue: PermissionCatalogue,
): { scopes?: string[]; unknown: string[]; duplicates: string[] } {
  const unknown = requested.filter((p) => !catalogue.has(p));
  const duplicates = requested.filter((p, i) => requested.indexOf(p) !== i);
  if (unknown.length || duplicates.length) return { unknown, duplicates: [...new Set(duplicates)] };
  return { scopes: catalogue.inOrder(expand(requested, catalogue)), unknown: [], duplicates: [] };
}

/** The built-in resources users of every role except read-only may write (SPEC §4). */
const RESOURCE_WRITES = [P.customersWrite, P.subscriptionsWrite, P.couponsWrite];

const roleGrantsOf = new WeakMap<PermissionCatalogue, Readonly<Record<Role, Grants>>>();

/** Users' permissions by role (SPEC §4), within the accounts they belong to; computed once per catalogue. */
export function roleGrants(role: Role, catalogue: PermissionCatalogue): Grants {
  let byRole = roleGrantsOf.get(catalogue);
  if (!byRole) {
    const reads = catalogue.definitions.filter((p) => p.access === 'READ').map((p) => p.name);
    byRole = {
      OWNER: expand([...catalogue.names, ...CAPABILITIES], catalogue),
      // Members write the built-in resources and every upstream's; read-only users read everything.
      MEMBER: expand([...reads, ...RESOURCE_WRITES, ...catalogue.extensionNames, P.environmentRead], catalogue),
      READ_ONLY: expand([...reads, P.environmentRead], catalogue),
    };
    roleGrantsOf.set(catalogue, byRole);
  }
  return byRole[role];
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

/**
 * The scope a key shows (`ApiKey.scopes`, `viewer.permissions`). The full
 * access key's is the catalogue as it is now, so new permissions reach it
 * without a data change.
 */
export function keyScopes(key: KeyScopeSource, catalogue: PermissionCatalogue): string[] {
  switch (key.type) {
    case 'FULL_ACCESS':
      return [...catalogue.names];
    case 'PUBLISHABLE':
      return [...catalogue.publicReads];
    case 'SCOPED':
      return [...(key.scopes ?? [])];
    case 'INTEGRATION':
      if (!key.integrationType) return [];
      return catalogue.inOrder(expand(INTEGRATION_SCOPES[key.integrationType], catalogue));
  }
}

/** Everything a key may do: its scope, what it implies, and the capabilities of its type. */
export function keyGrants(key: KeyScopeSource, catalogue: PermissionCatalogue): Grants {
  // A stored scope the catalogue no longer has (an upstream dropped it) stays on the key but grants nothing.
  const held = keyScopes(key, catalogue).filter((p) => catalogue.has(p) || catalogue.isPublicRead(p));
  const grants = expand(held, catalogue);
  // Server-side keys see their environment; the publishable key reads only what SPEC §5 lists.
  if (key.type !== 'PUBLISHABLE') grants.add(P.environmentRead);
  if (key.type === 'FULL_ACCESS') grants.add(P.environmentManage);
  if (key.rotated) grants.delete(P.apiKeysWrite);
  return grants;
}

export function satisfies(grants: Grants, requirement: Requirement): boolean {
  return requirement.some((all) => all.every((p) => grants.has(p)));
}

/** The permissions missing for the closest alternative, for FORBIDDEN messages. */
export function missingFor(grants: Grants, requirement: Requirement): string[] {
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
