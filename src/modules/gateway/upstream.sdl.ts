import { mergeTypeDefs } from '@graphql-tools/merge';
import {
  buildASTSchema,
  type DefinitionNode,
  type DirectiveNode,
  type DocumentNode,
  type GraphQLError,
  type GraphQLSchema,
  Kind,
  parse,
  specifiedDirectives,
  visit,
} from 'graphql';
import { AUTH_DIRECTIVE_DEFINITIONS } from '../permission/permission.directives.js';

/** Thrown when an upstream's SDL cannot be served; names the upstream and what is wrong. */
export class UpstreamSchemaError extends Error {}

/**
 * Federation machinery (SPEC §9): the entity and service fields, their
 * types, and the `link__`/`federation__` imports. None of it is part of the
 * served schema, so two Federation upstreams never collide on it.
 */
const FEDERATION_FIELDS = new Set(['_service', '_entities']);
const FEDERATION_TYPES = new Set(['_Service', '_Any', '_Entity', '_FieldSet', 'FieldSet']);
const isFederationType = (name: string) =>
  FEDERATION_TYPES.has(name) || name.startsWith('link__') || name.startsWith('federation__');

/** Directives kept where they are applied; every other (Federation's @key, @shareable, …) is the upstream's own business. */
const KEPT_DIRECTIVES = new Set(['requiresScopes', 'authenticated', ...specifiedDirectives.map((d) => d.name)]);

const KEPT_DEFINITION_KINDS = new Set<string>([
  Kind.OBJECT_TYPE_DEFINITION,
  Kind.OBJECT_TYPE_EXTENSION,
  Kind.INTERFACE_TYPE_DEFINITION,
  Kind.INTERFACE_TYPE_EXTENSION,
  Kind.UNION_TYPE_DEFINITION,
  Kind.UNION_TYPE_EXTENSION,
  Kind.ENUM_TYPE_DEFINITION,
  Kind.ENUM_TYPE_EXTENSION,
  Kind.INPUT_OBJECT_TYPE_DEFINITION,
  Kind.INPUT_OBJECT_TYPE_EXTENSION,
  Kind.SCALAR_TYPE_DEFINITION,
  Kind.SCALAR_TYPE_EXTENSION,
]);

function nameOf(definition: DefinitionNode): string | null {
  return 'name' in definition && definition.name ? definition.name.value : null;
}

/** Only the applied directives Keygate serves; `null` removes the node in `visit`. */
const keepDirective = (node: DirectiveNode) => (KEPT_DIRECTIVES.has(node.name.value) ? undefined : null);

/**
 * An upstream's SDL as Keygate serves it: Federation machinery, schema
 * definitions, directive definitions and foreign applied directives removed;
 * `extend type` merged into its type.
 */
export function cleanUpstreamSdl(upstream: string, sdl: string): DocumentNode {
  let parsed: DocumentNode;
  try {
    parsed = parse(sdl, { noLocation: true });
  } catch (error) {
    throw new UpstreamSchemaError(`upstream "${upstream}": its SDL does not parse: ${(error as GraphQLError).message}`);
  }
  const definitions = parsed.definitions.filter((d) => {
    if (!KEPT_DEFINITION_KINDS.has(d.kind)) return false;
    const name = nameOf(d);
    return name !== null && !isFederationType(name);
  });
  const cleaned = visit(
    { kind: Kind.DOCUMENT, definitions },
    {
      Directive: keepDirective,
      FieldDefinition(node, _key, _parent, _path, ancestors) {
        const owner = ancestors.at(-1) as DefinitionNode | undefined;
        if (owner && nameOf(owner) === 'Query' && FEDERATION_FIELDS.has(node.name.value)) return null;
        return undefined;
      },
    },
  );
  // `extend type Query` without a `type Query` (common in subgraphs): merge extensions into definitions.
  let merged: DocumentNode;
  try {
    merged = mergeTypeDefs([cleaned], { convertExtensions: true, throwOnConflict: true, sort: false, noLocation: true });
  } catch (error) {
    throw new UpstreamSchemaError(`upstream "${upstream}": its SDL is not a valid schema: ${(error as Error).message}`);
  }
  return { kind: Kind.DOCUMENT, definitions: merged.definitions.filter((d) => d.kind !== Kind.SCHEMA_DEFINITION) };
}

/** Builds (and validates) an upstream's schema from its cleaned SDL, with Keygate's auth directive definitions. */
export function buildUpstreamSchema(upstream: string, document: DocumentNode): GraphQLSchema {
  let schema: GraphQLSchema;
  try {
    schema = buildASTSchema({ kind: Kind.DOCUMENT, definitions: [...AUTH_DIRECTIVE_DEFINITIONS, ...document.definitions] });
  } catch (error) {
    throw new UpstreamSchemaError(`upstream "${upstream}": its SDL is not a valid schema: ${(error as Error).message}`);
  }
  if (schema.getSubscriptionType())
    throw new UpstreamSchemaError(
      `upstream "${upstream}": defines type Subscription; subscriptions are not served through Keygate.`,
    );
  if (!schema.getQueryType() && !schema.getMutationType())
    throw new UpstreamSchemaError(`upstream "${upstream}": its SDL has no Query or Mutation fields.`);
  return schema;
}
