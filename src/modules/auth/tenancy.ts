import type { RequestContext } from '../../context.js';
import { badInput, notFound } from '../../shared/errors.js';
import { recordPlace } from '../activity/activity.places.js';
import type { EnvironmentRow } from '../environment/environment.table.js';
import { type Grants, roleGrants } from '../permission/permission.model.js';
import type { Principal } from './principal.js';

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
    if (where.account_id !== key.accountId) return null;
    if (where.environment_id !== undefined && where.environment_id !== key.environmentId) return null;
    return principal.grants;
  }
  const role = principal.roles.get(where.account_id);
  return role ? roleGrants(role, principal.catalogue) : null;
}

/**
 * The caller's grants on a resource it reached, or null when it is out of
 * reach; a reached environment is where the call's activity event lands.
 */
export function reach(ctx: RequestContext, where: Tenancy): Grants | null {
  const grants = grantsOn(ctx.principal, where);
  if (grants && where.environment_id !== undefined)
    recordPlace(ctx, { accountId: where.account_id, environmentId: where.environment_id });
  return grants;
}

/** An environment the caller can reach, with the caller's grants in it; NOT_FOUND otherwise. */
export async function reachEnvironment(ctx: RequestContext, id: string): Promise<{ env: EnvironmentRow; grants: Grants }> {
  const env = await ctx.loaders.environment.load(id);
  const grants = env ? reach(ctx, { account_id: env.account_id, environment_id: env.id }) : null;
  if (!env || !grants) throw notFound('Environment');
  return { env, grants };
}

/** The environment an operation targets: the argument, or the calling key's own environment. */
export async function resolveEnvironment(ctx: RequestContext, environmentId: string | null | undefined) {
  if (environmentId != null) return reachEnvironment(ctx, environmentId);
  if (ctx.principal.kind === 'API_KEY') return reachEnvironment(ctx, ctx.principal.key.environmentId);
  throw badInput('environmentId', 'is required when calling with a user session.');
}
