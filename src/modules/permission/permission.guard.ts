import type { RequestContext } from '../../context.js';
import type { Permission } from './permission.catalogue.js';
import type { Requirement } from './permission.model.js';

/**
 * Field guard for a requirement of Keygate's own schema: the same value
 * becomes the scope-auth check and the `@requiresScopes` directive in the
 * printed schema, so enforcement and documentation cannot drift.
 */
export function requires(requirement: Requirement<Permission>) {
  return {
    authScopes: { requires: requirement },
    directives: { requiresScopes: { scopes: requirement } },
  };
}

/**
 * Like `requires`, except for the objects `exempt` picks out (the caller's
 * own key, say), which pass without it. The directive prints the rule for
 * everyone else; the exemption is documented with the field.
 */
export function requiresUnless<Parent>(
  exempt: (parent: Parent, ctx: RequestContext) => boolean,
  requirement: Requirement<Permission>,
) {
  return {
    authScopes: (parent: Parent, _args: unknown, ctx: RequestContext) => (exempt(parent, ctx) ? true : { requires: requirement }),
    directives: { requiresScopes: { scopes: requirement } },
  };
}

/** Field guard for anything any authenticated caller may use; printed as `@authenticated`. */
export const authenticated = {
  authScopes: { authenticated: true },
  directives: { authenticated: {} },
} as const;
