import type { Transform } from '@graphql-tools/delegate';
import { mergeSchemas } from '@graphql-tools/schema';
import type { Executor } from '@graphql-tools/utils';
import { createGraphQLError } from '@graphql-tools/utils';
import { wrapSchema } from '@graphql-tools/wrap';
import {
  type ExecutionResult,
  type FieldNode,
  type GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  GraphQLSchema,
  isInterfaceType,
  isObjectType,
  isScalarType,
  Kind,
  type SelectionSetNode,
  specifiedScalarTypes,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { RequestContext } from '../../context.js';
import { missingPermission } from '../../shared/errors.js';
import { recordPlace } from '../activity/activity.places.js';
import { missingFor, type Requirement, satisfies } from '../permission/permission.model.js';
import { settledCallerOf, upstreamCallerOf } from './upstream.caller.js';
import type { UpstreamAnswer } from './upstream.fetch.js';
import type { UpstreamRules } from './upstream.permissions.js';

/** An upstream ready to serve: its schema (from its SDL), its rules and how to reach it. */
export interface LoadedUpstream {
  name: string;
  schema: GraphQLSchema;
  rules: UpstreamRules;
  /** What delegation sends through (it batches the root fields of one request into one upstream request). */
  executor: Executor;
  /** The upstream's HTTP executor itself (an answer without data goes back through delegation with it). */
  send: Executor;
  /**
   * Sends one whole operation as the client wrote it (the passthrough), with this request's headers and identity
   * token (signed here). `query`: it is a query, so an identical one of the same identity already in flight may
   * answer it (upstream.share.ts) unless the upstream's `deduplicate` is off.
   */
  post(
    ctx: RequestContext,
    body: { query: string; variables?: unknown; operationName?: string },
    query: boolean,
  ): Promise<UpstreamAnswer>;
  /** Runs before each root field is sent: signs the identity token for this request (and records where it landed). */
  beforeSend(ctx: RequestContext): Promise<void>;
}

/** Two sources defining one type or root field (SPEC §9): a start-up error naming both. */
export class SchemaCollisionError extends Error {}

const BUILT_IN_SCALARS = new Set(specifiedScalarTypes.map((s) => s.name));
const ROOTS = ['Query', 'Mutation'] as const;

/** Types and root fields of one source, for the collision check. */
function ownedBy(schema: GraphQLSchema): { types: Map<string, GraphQLNamedType>; rootFields: string[] } {
  const types = new Map<string, GraphQLNamedType>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || BUILT_IN_SCALARS.has(type.name) || (ROOTS as readonly string[]).includes(type.name))
      continue;
    types.set(type.name, type);
  }
  const rootFields = ROOTS.flatMap((root) => {
    const type = schema.getType(root);
    return isObjectType(type) ? Object.keys(type.getFields()).map((f) => `${root}.${f}`) : [];
  });
  return { types, rootFields };
}

/**
 * Refuses a type or root field that two sources both define, naming both
 * (shared scalars excepted: a scalar is a name and a wire format, and the
 * auth directives are Keygate's own definitions for everyone).
 */
export function assertNoCollisions(sources: readonly { name: string; schema: GraphQLSchema }[]): void {
  const typeOwners = new Map<string, string>();
  const fieldOwners = new Map<string, string>();
  for (const source of sources) {
    const { types, rootFields } = ownedBy(source.schema);
    for (const [name, type] of types) {
      const owner = typeOwners.get(name);
      if (owner !== undefined && !isScalarType(type))
        throw new SchemaCollisionError(`type ${name} is defined by both ${owner} and ${source.name}.`);
      typeOwners.set(name, owner ?? source.name);
    }
    for (const coordinate of rootFields) {
      const owner = fieldOwners.get(coordinate);
      if (owner !== undefined)
        throw new SchemaCollisionError(`root field ${coordinate} is defined by both ${owner} and ${source.name}.`);
      fieldOwners.set(coordinate, source.name);
    }
  }
}

const TYPENAME: FieldNode = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } };

/**
 * Enforcement before fetch (SPEC §9): the request an upstream receives
 * carries only the fields the caller may read. The gateway answers the
 * removed ones itself (`null` and FORBIDDEN on their path, see
 * `guardFields`), from the same rules and the same grants.
 */
function withoutUnauthorizedFields(rules: UpstreamRules): Transform<unknown, RequestContext> {
  return {
    transformRequest(request, delegationContext) {
      const grants = (delegationContext.context && settledCallerOf(delegationContext.context)?.grants) ?? new Set<string>();
      const typeInfo = new TypeInfo(delegationContext.targetSchema);
      const document = visit(
        request.document,
        visitWithTypeInfo(typeInfo, {
          Field(node) {
            const parent = typeInfo.getParentType();
            const requirement = parent && rules.fields.get(`${parent.name}.${node.name.value}`);
            // Fail closed: without a settled caller nothing guarded goes out.
            return requirement && !satisfies(grants, requirement) ? null : undefined;
          },
          SelectionSet: {
            leave: (node: SelectionSetNode) => (node.selections.length ? undefined : { ...node, selections: [TYPENAME] }),
          },
        }),
      );
      return { ...request, document };
    },
  };
}

/**
 * Errors an upstream returns pass through with their message, path and
 * `extensions.code`, plus `extensions.upstream` naming it; nothing else of
 * theirs (stack traces, internals, locations in a document the client never
 * sent).
 */
export function markUpstreamError(upstream: string): (error: GraphQLError) => GraphQLError {
  return (error) => {
    const code = error.extensions?.code;
    return createGraphQLError(error.message, {
      path: error.path,
      extensions: { ...(typeof code === 'string' ? { code } : {}), upstream },
    });
  };
}

/** The same marking, as a delegation transform. */
function markedUpstreamErrors(upstream: string): Transform<unknown, RequestContext> {
  const mark = markUpstreamError(upstream);
  return {
    transformResult: (result: ExecutionResult) =>
      result.errors?.length ? { ...result, errors: result.errors.map(mark) } : result,
  };
}

type Resolver = GraphQLFieldResolver<unknown, RequestContext>;

function denied(requirement: Requirement, grants: ReadonlySet<string>) {
  return missingPermission(missingFor(grants, requirement));
}

/**
 * The gateway's half of enforcement: every guarded upstream field answers
 * FORBIDDEN (naming what is missing) for a caller without its permission,
 * and a root field settles the caller and its identity token before
 * anything is sent, so a refused mutation never leaves Keygate.
 */
function guardFields(schema: GraphQLSchema, upstream: LoadedUpstream): void {
  for (const [coordinate, requirement] of upstream.rules.fields) {
    const [typeName, fieldName] = coordinate.split('.') as [string, string];
    const type = schema.getType(typeName);
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    const field = type.getFields()[fieldName];
    if (!field) continue;
    const resolve = (field.resolve ?? ((source: Record<string, unknown>) => source?.[fieldName])) as Resolver;
    if ((ROOTS as readonly string[]).includes(typeName)) {
      field.resolve = async (source, args, ctx: RequestContext, info) => {
        const caller = await upstreamCallerOf(ctx);
        recordPlace(
          ctx,
          { accountId: caller.claims.kg_account, environmentId: caller.claims.kg_environment },
          String(info.path.key),
        );
        if (!satisfies(caller.grants, requirement)) throw denied(requirement, caller.grants);
        await upstream.beforeSend(ctx);
        return resolve(source, args, ctx, info);
      };
    } else {
      field.resolve = (source, args, ctx: RequestContext, info) => {
        const grants = settledCallerOf(ctx)?.grants ?? new Set<string>();
        if (!satisfies(grants, requirement)) throw denied(requirement, grants);
        return resolve(source, args, ctx, info);
      };
    }
  }
}

/**
 * The served schema: Keygate's own, executed in place, merged with each
 * upstream wrapped as a remote schema (graphql-tools' delegation over
 * `@graphql-tools/executor-http`). Keygate's fields are not delegated:
 * stitching a local schema re-executes every request against it.
 */
export function buildGatewaySchema(local: GraphQLSchema, upstreams: readonly LoadedUpstream[]): GraphQLSchema {
  if (upstreams.length === 0) return local;
  assertNoCollisions([
    { name: 'Keygate', schema: local },
    ...upstreams.map((u) => ({ name: `upstream "${u.name}"`, schema: u.schema })),
  ]);
  const wrapped = upstreams.map((u) =>
    wrapSchema<RequestContext>({
      schema: u.schema,
      executor: u.executor,
      batch: true,
      transforms: [withoutUnauthorizedFields(u.rules), markedUpstreamErrors(u.name)],
    }),
  );
  const merged = mergeSchemas({ schemas: [local, ...wrapped] });
  // A type named Subscription (Keygate's billing subscription) is not a subscription root.
  const schema = new GraphQLSchema({ ...merged.toConfig(), subscription: null });
  for (const upstream of upstreams) guardFields(schema, upstream);
  return schema;
}
