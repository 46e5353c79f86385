import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { RequestContext } from './context.js';
import { missingFor, type Requirement, satisfies } from './modules/permission/permission.model.js';
import { KeygateError, missingPermission, unauthenticated } from './shared/errors.js';

/** Configures the builder (context, scopes, plugins); defines no types. */
export const builder = new SchemaBuilder<{
  Context: RequestContext;
  AuthScopes: {
    authenticated: boolean;
    /** Outer list: any of; inner list: all of. Same shape as `@requiresScopes`. */
    requires: Requirement;
  };
  Directives: {
    requiresScopes: { locations: 'OBJECT' | 'FIELD_DEFINITION'; args: { scopes: Requirement } };
    authenticated: { locations: 'OBJECT' | 'FIELD_DEFINITION'; args: Record<string, never> };
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, DirectivesPlugin],
  defaultFieldNullability: false,
  directives: { useGraphQLToolsUnorderedDirectives: true },
  scopeAuth: {
    // Synchronous: permissions were computed once when the request was authenticated.
    authScopes: (ctx) => ({
      authenticated: !!ctx.principal,
      requires: (requirement) => satisfies(ctx.principal.grants, requirement),
    }),
    unauthorizedError: (_parent, ctx, _info, result) => {
      if (!ctx.principal) return unauthenticated();
      const requirement = findRequirement(result.failure);
      return requirement
        ? missingPermission(missingFor(ctx.principal.grants, requirement))
        : new KeygateError('FORBIDDEN', result.message);
    },
  },
});

function findRequirement(failure: unknown): Requirement | null {
  const f = failure as { kind?: string; scope?: string; parameter?: unknown; failures?: unknown[] };
  if (f.scope === 'requires') return f.parameter as Requirement;
  for (const child of f.failures ?? []) {
    const found = findRequirement(child);
    if (found) return found;
  }
  return null;
}

/** The builder's schema types, for helpers that take refs or field builders. */
export type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
