import { astFromDirective } from '@graphql-tools/utils';
import {
  type DirectiveDefinitionNode,
  DirectiveLocation,
  GraphQLDirective,
  GraphQLList,
  GraphQLNonNull,
  GraphQLString,
} from 'graphql';

/** Where the Federation auth directives may stand (Apollo's definitions). */
const LOCATIONS = [
  DirectiveLocation.FIELD_DEFINITION,
  DirectiveLocation.OBJECT,
  DirectiveLocation.INTERFACE,
  DirectiveLocation.SCALAR,
  DirectiveLocation.ENUM,
];

/**
 * The authorization directives every schema Keygate serves carries: its own
 * (applied from the permission catalogue) and its upstreams' (read from their
 * SDL, in the Apollo Federation convention).
 */
export const requiresScopesDirective = new GraphQLDirective({
  name: 'requiresScopes',
  description:
    'Field or type needs every scope of at least one inner list (outer list = OR,\ninner list = AND). Same convention as Apollo Router and envelop generic-auth.',
  locations: LOCATIONS,
  args: {
    scopes: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(GraphQLString))))) },
  },
});

export const authenticatedDirective = new GraphQLDirective({
  name: 'authenticated',
  description: 'Field or type needs an authenticated caller (API key or user session).',
  locations: LOCATIONS,
});

export const AUTH_DIRECTIVES = [requiresScopesDirective, authenticatedDirective] as const;

/** The same definitions as SDL nodes, for building an upstream's schema from its SDL. */
export const AUTH_DIRECTIVE_DEFINITIONS: readonly DirectiveDefinitionNode[] = AUTH_DIRECTIVES.map((d) => astFromDirective(d));
