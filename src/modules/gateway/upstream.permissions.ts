import {
  type ConstDirectiveNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getDirectiveValues,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type ObjectTypeDefinitionNode,
  visit,
} from 'graphql';
import type { PermissionAccess, PermissionDefinition } from '../permission/permission.catalogue.js';
import { requiresScopesDirective } from '../permission/permission.directives.js';
import type { Requirement } from '../permission/permission.model.js';
import { UpstreamSchemaError } from './upstream.sdl.js';

/** `<resource>:<action>`, lower case: the names every upstream scope must have. */
const SCOPE = /^[a-z][a-z0-9_]{0,63}:[a-z][a-z0-9_]{0,63}$/;

/** What one upstream adds to the permission model (SPEC §9). */
export interface UpstreamRules {
  upstream: string;
  /** `Type.field` → what reading it needs: its own `@requiresScopes` and its return type's, together. */
  fields: ReadonlyMap<string, Requirement>;
  /** Every scope the upstream names, in the order they first appear, with a description. */
  definitions: readonly PermissionDefinition[];
  /** Its `<resource>:read_public` scopes: held by the publishable key. */
  publicReads: readonly string[];
}

/** The scope a root field needs when neither it nor its return type names one: deny by default. */
export const defaultScope = (upstream: string, root: 'Query' | 'Mutation') =>
  `${upstream}:${root === 'Query' ? 'read' : 'write'}`;

const hasRequiresScopes = (directives: readonly DirectiveNode[] | undefined) =>
  directives?.some((d) => d.name.value === requiresScopesDirective.name) ?? false;

function scopesDirective(scope: string): ConstDirectiveNode {
  return {
    kind: Kind.DIRECTIVE,
    name: { kind: Kind.NAME, value: requiresScopesDirective.name },
    arguments: [
      {
        kind: Kind.ARGUMENT,
        name: { kind: Kind.NAME, value: 'scopes' },
        value: {
          kind: Kind.LIST,
          values: [{ kind: Kind.LIST, values: [{ kind: Kind.STRING, value: scope }] }],
        },
      },
    ],
  };
}

/**
 * Writes the deny-by-default rule into the SDL: a root field with no
 * `@requiresScopes` on itself or its return type gets
 * `@requiresScopes(scopes: [["<upstream>:read"]])` (`:write` for mutations),
 * so the served SDL states every rule that is enforced.
 */
export function applyDefaultDeny(upstream: string, document: DocumentNode): DocumentNode {
  const guardedTypes = new Set(
    document.definitions.flatMap((d) =>
      'directives' in d && 'name' in d && d.name && hasRequiresScopes(d.directives) ? [d.name.value] : [],
    ),
  );
  const returnTypeName = (field: FieldDefinitionNode) => {
    let type = field.type;
    while (type.kind !== Kind.NAMED_TYPE) type = type.type;
    return type.name.value;
  };
  return visit(document, {
    ObjectTypeDefinition(node: ObjectTypeDefinitionNode) {
      const root = node.name.value;
      if (root !== 'Query' && root !== 'Mutation') return undefined;
      return {
        ...node,
        fields: node.fields?.map((field) =>
          hasRequiresScopes(field.directives) || guardedTypes.has(returnTypeName(field))
            ? field
            : { ...field, directives: [...(field.directives ?? []), scopesDirective(defaultScope(upstream, root))] },
        ),
      };
    },
  });
}

/** The `@requiresScopes` of a field or type, checked: a list of lists of well-formed scope names. */
function requirementOf(
  upstream: string,
  where: string,
  node: { astNode?: { directives?: readonly ConstDirectiveNode[] } | null },
): Requirement | null {
  if (!node.astNode || !hasRequiresScopes(node.astNode.directives)) return null;
  let values: Record<string, unknown> | undefined;
  try {
    values = getDirectiveValues(requiresScopesDirective, node.astNode as never);
  } catch (error) {
    throw new UpstreamSchemaError(`upstream "${upstream}": ${where}: @requiresScopes is malformed: ${(error as Error).message}`);
  }
  const scopes = values?.scopes as string[][] | undefined;
  if (!scopes?.length || scopes.some((all) => !all.length))
    throw new UpstreamSchemaError(
      `upstream "${upstream}": ${where}: @requiresScopes needs at least one non-empty list of scopes.`,
    );
  for (const scope of scopes.flat()) {
    if (!SCOPE.test(scope))
      throw new UpstreamSchemaError(
        `upstream "${upstream}": ${where}: scope ${JSON.stringify(scope.slice(0, 100))} is not <resource>:<action> in lower case (${SCOPE.source}).`,
      );
  }
  return scopes;
}

/** Both requirements at once, still as alternatives of conjunctions. */
function both(a: Requirement | null, b: Requirement | null): Requirement | null {
  if (!a) return b;
  if (!b) return a;
  return a.flatMap((x) => b.map((y) => [...new Set([...x, ...y])]));
}

const accessOf = (scope: string): PermissionAccess => {
  const action = scope.split(':')[1];
  return action === 'read' || action === 'read_public' ? 'READ' : 'WRITE';
};

/**
 * Reads an upstream's rules from its schema (built after `applyDefaultDeny`):
 * every field's requirement and every scope it names, with the description
 * of the field or type that names it first.
 */
export function upstreamRules(upstream: string, schema: GraphQLSchema): UpstreamRules {
  const typeRequirements = new Map<string, Requirement>();
  const descriptions = new Map<string, string>();
  const note = (requirement: Requirement, description: string | null | undefined, where: string) => {
    for (const scope of requirement.flat()) {
      if (!descriptions.has(scope))
        descriptions.set(scope, description?.trim() ? description.trim() : `Declared by upstream ${upstream} on ${where}.`);
    }
  };
  const types = Object.values(schema.getTypeMap()).filter((t) => !t.name.startsWith('__'));
  for (const type of types) {
    const requirement = requirementOf(upstream, type.name, type as GraphQLNamedType & { astNode?: never });
    if (requirement) {
      typeRequirements.set(type.name, requirement);
      note(requirement, type.description, type.name);
    }
  }
  const fields = new Map<string, Requirement>();
  for (const type of types) {
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
      const where = `${type.name}.${field.name}`;
      const own = requirementOf(upstream, where, field);
      if (own) note(own, field.description, where);
      const requirement = both(own, typeRequirements.get(getNamedType(field.type).name) ?? null);
      if (requirement) fields.set(where, requirement);
    }
  }
  // A field selected through an interface may resolve on any implementation: it needs what the strictest of
  // them needs, so the request the upstream receives never carries a field one of them guards.
  for (const type of types) {
    if (!isInterfaceType(type)) continue;
    for (const implementation of schema.getPossibleTypes(type)) {
      for (const name of Object.keys(type.getFields())) {
        const needed = fields.get(`${implementation.name}.${name}`);
        if (needed) fields.set(`${type.name}.${name}`, both(fields.get(`${type.name}.${name}`) ?? null, needed)!);
      }
    }
  }
  for (const root of ['Query', 'Mutation'] as const) {
    const scope = defaultScope(upstream, root);
    if (descriptions.get(scope)?.startsWith('Declared by upstream'))
      descriptions.set(scope, `${root === 'Query' ? 'Queries' : 'Mutations'} of ${upstream} that name no scope of their own.`);
  }
  const definitions = [...descriptions].map(([name, description]) => ({
    name,
    resource: name.split(':')[0]!,
    access: accessOf(name),
    description,
  }));
  return {
    upstream,
    fields,
    definitions,
    publicReads: definitions.filter((d) => d.name.endsWith(':read_public')).map((d) => d.name),
  };
}
