import type { Role, UserRow } from '../account/account.table.js';
import type { ApiKeyRow } from '../api-key/api-key.table.js';
import type { Actor } from '../audit/actor.js';
import type { Grants } from '../permission/permission.model.js';
import { roleGrants } from '../permission/permission.model.js';

/** The authenticated caller of one request. */
export type Principal = ApiKeyPrincipal | UserPrincipal;

export interface ApiKeyPrincipal {
  kind: 'API_KEY';
  key: ApiKeyRow;
  /** The key's permissions, computed once per request. */
  grants: Grants;
  actor: Actor;
}

export interface UserPrincipal {
  kind: 'USER';
  user: UserRow;
  /** Role per account id. */
  roles: ReadonlyMap<string, Role>;
  /** Union over the user's roles: what scope-auth checks field by field. */
  grants: Grants;
  actor: Actor;
}

/** Where a resource lives, for tenancy checks. */
export interface Tenancy {
  account_id: string;
  /** Absent for account-level resources. */
  environment_id?: string;
}

/**
 * What the principal may do on a resource of this account/environment, or
 * null when the resource is outside its reach (which callers answer with
 * NOT_FOUND, never FORBIDDEN).
 */
export function grantsOn(principal: Principal, where: Tenancy): Grants | null {
  if (principal.kind === 'API_KEY') {
    const { key } = principal;
    if (where.account_id !== key.account_id) return null;
    if (where.environment_id !== undefined && where.environment_id !== key.environment_id) return null;
    return principal.grants;
  }
  const role = principal.roles.get(where.account_id);
  return role ? roleGrants(role) : null;
}

export function unionOfRoleGrants(roles: Iterable<Role>): Grants {
  const out = new Set<string>();
  for (const role of roles) for (const p of roleGrants(role)) out.add(p);
  return out;
}
