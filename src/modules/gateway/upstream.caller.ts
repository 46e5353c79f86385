import type { RequestContext } from '../../context.js';
import { badInput } from '../../shared/errors.js';
import { reachEnvironment } from '../auth/tenancy.js';
import { verifiedCustomerOf } from '../client-security/client-security.service.js';
import type { Grants } from '../permission/permission.model.js';
import { roleGrants } from '../permission/permission.model.js';
import type { IdentityClaims } from './identity.js';

/** The header a user names the environment in when calling an upstream field (SPEC §9). */
export const ENVIRONMENT_HEADER = 'x-keygate-environment';

/** Who calls an upstream, settled once per request: what they may do there, and what the upstream is told. */
export interface UpstreamCaller {
  grants: Grants;
  /** The identity token's claims, without `jti` (the request id) and the registered ones. */
  claims: Omit<IdentityClaims, 'jti'>;
}

const callers = new WeakMap<RequestContext, Promise<UpstreamCaller>>();
const settled = new WeakMap<RequestContext, UpstreamCaller>();

async function settle(ctx: RequestContext): Promise<UpstreamCaller> {
  const { principal } = ctx;
  const named = ctx.request.headers.get(ENVIRONMENT_HEADER)?.trim() || null;
  if (principal.kind === 'API_KEY') {
    const { key } = principal;
    // A key acts in its own environment; naming any other is NOT_FOUND, as for every id it cannot reach.
    if (named !== null) await reachEnvironment(ctx, named);
    // The publishable key reaches upstreams under client-side security like Keygate's own customer reads;
    // another key's token is passed on only when it verifies. The environment (its client-side security and
    // signing secret) is read only then: a server key without a customer token needs nothing from the database.
    let customer: string | null = null;
    if (key.type === 'PUBLISHABLE') {
      const env = await ctx.loaders.environment.load(key.environmentId);
      customer = env ? verifiedCustomerOf(ctx, env) : null;
    } else if (ctx.customerToken !== null) {
      const env = await ctx.loaders.environment.load(key.environmentId);
      try {
        customer = env ? verifiedCustomerOf(ctx, env) : null;
      } catch {
        customer = null;
      }
    }
    return {
      grants: principal.grants,
      claims: {
        sub: key.id,
        kg_principal: 'api_key',
        kg_account: key.accountId,
        kg_environment: key.environmentId,
        kg_key_type: key.type,
        kg_scopes: [...principal.grants],
        ...(customer !== null ? { kg_customer: customer } : {}),
      },
    };
  }
  if (!named) throw badInput(ENVIRONMENT_HEADER, 'is required when a user calls an upstream field: send the environment id.');
  const { env } = await reachEnvironment(ctx, named);
  const role = principal.roles.get(env.account_id)!;
  const grants = roleGrants(role, ctx.deps.gateway.catalogue);
  return {
    grants,
    claims: {
      sub: principal.user.id,
      kg_principal: 'user',
      kg_account: env.account_id,
      kg_environment: env.id,
      kg_role: role,
      kg_scopes: [...grants],
    },
  };
}

/** The caller of upstream fields in this request, resolved on first use (and refused with a coded error). */
export function upstreamCallerOf(ctx: RequestContext): Promise<UpstreamCaller> {
  let caller = callers.get(ctx);
  if (!caller) {
    caller = settle(ctx).then((c) => {
      settled.set(ctx, c);
      return c;
    });
    callers.set(ctx, caller);
  }
  return caller;
}

/** The caller once a root field has settled it (nested upstream fields run after their root). */
export function settledCallerOf(ctx: RequestContext): UpstreamCaller | undefined {
  return settled.get(ctx);
}
