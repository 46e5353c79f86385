import type { RequestContext } from '../../context.js';
import type { ScopeRequirement } from './permission.model.js';

/**
 * Field guard derived from catalogue permissions: the same value becomes the
 * scope-auth check and the `@requiresScopes` directive in the printed schema,
 * so enforcement and documentation cannot drift. Arguments are alternatives
 * (any of); each alternative lists permissions needed together.
 */
export function requires(...alternatives: string[][]) {
  const scopes: ScopeRequirement = alternatives;
  return {
    authScopes: { requires: scopes },
    directives: { requiresScopes: { scopes } },
  };
}

/** Field guard for anything any authenticated caller may use; printed as `@authenticated`. */
export const authenticated = {
  authScopes: { authenticated: true },
  directives: { authenticated: {} },
} as const;

/**
 * Like `requires`, except for the objects `exempt` picks out (the caller's
 * own key, say), which pass without it. The directive prints the rule for
 * everyone else; the exemption is documented with the field.
 */
export function requiresUnless<Parent>(exempt: (parent: Parent, ctx: RequestContext) => boolean, ...alternatives: string[][]) {
  const scopes: ScopeRequirement = alternatives;
  return {
    authScopes: (parent: Parent, _args: unknown, ctx: RequestContext) => (exempt(parent, ctx) ? true : { requires: scopes }),
    directives: { requiresScopes: { scopes } },
  };
}
