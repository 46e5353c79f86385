import type { Role, UserRow } from '../account/account.table.js';
import type { ApiKey } from '../api-key/api-key.model.js';
import type { Actor } from '../audit/actor.js';
import type { PermissionCatalogue } from '../permission/permission.catalogue.js';
import type { Grants } from '../permission/permission.model.js';
import { roleGrants } from '../permission/permission.model.js';

/** The authenticated caller of one request. */
export type Principal = ApiKeyPrincipal | UserPrincipal;

/**
 * The key of an API key caller: its row without the ciphertext. Nothing on
 * the request path needs key material (a reveal reads the row itself), and
 * the verified-key cache holds one of these per key.
 */
export type VerifiedKey = Omit<ApiKey, 'secretEncrypted'>;

export interface ApiKeyPrincipal {
  kind: 'API_KEY';
  key: VerifiedKey;
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
  /** The catalogue the user's role grants are read from (upstream scopes included). */
  catalogue: PermissionCatalogue;
}

export function unionOfRoleGrants(roles: Iterable<Role>, catalogue: PermissionCatalogue): Grants {
  const out = new Set<string>();
  for (const role of roles) for (const p of roleGrants(role, catalogue)) out.add(p);
  return out;
}
