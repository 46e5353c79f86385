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
