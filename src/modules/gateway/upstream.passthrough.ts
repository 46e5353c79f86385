import { type ExecutionResult, isAsyncIterable } from '@graphql-tools/utils';
import {
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLError,
  type GraphQLSchema,
  getVariableValues,
  isScalarType,
  Kind,
  type OperationDefinitionNode,
  specifiedScalarTypes,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from '../../context.js';
import { recordPlace } from '../activity/activity.places.js';
import { type Requirement, satisfies } from '../permission/permission.model.js';
import { type LoadedUpstream, markUpstreamError } from './gateway.schema.js';
import { upstreamCallerOf } from './upstream.caller.js';

/** What the passthrough needs of a loaded upstream: its schema and rules, its own executor, its identity token. */
export type PassthroughUpstream = Pick<LoadedUpstream, 'name' | 'schema' | 'rules' | 'send' | 'beforeSend'>;

/**
 * An operation the gateway may hand to one upstream whole: every root field
 * is that upstream's, and the fields it selects need `requirements`.
 */
interface Plan {
  upstream: PassthroughUpstream;
  operation: OperationDefinitionNode;
  rootKeys: readonly string[];
  requirements: readonly Requirement[];
}

/**
 * Operations answered by one upstream as it answers them (SPEC §9, README
 * "Gateway"): when every root field of the operation belongs to one upstream
 * and the caller holds every permission each field of the document needs,
 * enforcement removes nothing, so the gateway sends the client's document
 * as it is (printed once per document, like Hive Gateway's proxy mode) and
 * answers with the upstream's data, its errors marked as in delegation.
 * Re-executing that answer field by field through the merged schema would
 * give the same data at several times the cost. Anything else (a field the
 * caller may not read, Keygate's own fields in the document, fields of two
 * upstreams, several operations, fragments on the root type, a shared
 * scalar that Keygate would serialize itself) goes through graphql-tools'
 * delegation as before; an answer without data (a fault, a request-level
 * error) is handed to delegation too, without asking the upstream again, so
 * it lands on each field as delegation places it.
 */
export class Passthrough {
  readonly #owners = new Map<string, PassthroughUpstream>();
  readonly #plans = new WeakMap<DocumentNode, Plan | null>();

  constructor(
    private readonly schema: GraphQLSchema,
    local: GraphQLSchema,
    upstreams: readonly PassthroughUpstream[],
  ) {
    const builtIn = new Set(specifiedScalarTypes.map((s) => s.name));
    for (const upstream of upstreams) {
      // A scalar Keygate also defines is served with Keygate's serialization: only delegation applies it.
      const sharesScalar = Object.values(upstream.schema.getTypeMap()).some(
        (t) => isScalarType(t) && !builtIn.has(t.name) && local.getType(t.name),
      );
      if (sharesScalar) continue;
      for (const root of [upstream.schema.getQueryType(), upstream.schema.getMutationType()]) {
        // The served root types are Query and Mutation: an upstream naming its roots otherwise is delegated.
        if (!root || (root.name !== 'Query' && root.name !== 'Mutation')) continue;
        for (const field of Object.keys(root.getFields())) this.#owners.set(`${root.name}.${field}`, upstream);
      }
    }
  }

  /** The plan for a document (computed once per parsed document), or null when it goes through delegation. */
  planOf(document: DocumentNode): Plan | null {
    let plan = this.#plans.get(document);
    if (plan === undefined) {
      plan = this.#plan(document);
      this.#plans.set(document, plan);
    }
    return plan;
  }

  #plan(document: DocumentNode): Plan | null {
    const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const operation = operations.length === 1 ? operations[0]! : null;
    if (!operation || operation.operation === 'subscription') return null;
    const root = this.schema.getRootType(operation.operation);
    if (!root) return null;
    let upstream: PassthroughUpstream | null = null;
    const rootKeys: string[] = [];
    for (const selection of operation.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) return null;
      const owner = this.#owners.get(`${root.name}.${selection.name.value}`);
      if (!owner || (upstream && owner !== upstream)) return null;
      upstream = owner;
      rootKeys.push(selection.alias?.value ?? selection.name.value);
    }
    if (!upstream) return null;
    const requirements = new Map<string, Requirement>();
    const typeInfo = new TypeInfo(this.schema);
    const { fields } = upstream.rules;
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          const parent = typeInfo.getParentType();
          const requirement = parent && fields.get(`${parent.name}.${node.name.value}`);
          if (requirement) requirements.set(JSON.stringify(requirement), requirement);
        },
      }),
    );
    return { upstream, operation, rootKeys, requirements: [...requirements.values()] };
  }
}

/** Upstream answers without data, per request: delegation gets them instead of asking the upstream again. */
const answered = new WeakMap<Request, Map<string, ExecutionResult>>();

/** The answer this request already got from `upstream` when it had no data (see `Passthrough`). */
export function answeredWithoutData(ctx: RequestContext | undefined, upstream: string): ExecutionResult | undefined {
  return ctx ? answered.get(ctx.request)?.get(upstream) : undefined;
}

type Execute = (args: ExecutionArgs) => unknown;

async function execute(args: ExecutionArgs, passthrough: Passthrough, fallback: Execute): Promise<unknown> {
  const plan = passthrough.planOf(args.document);
  if (!plan) return fallback(args);
  const ctx = args.contextValue as RequestContext;
  let caller: Awaited<ReturnType<typeof upstreamCallerOf>>;
  try {
    caller = await upstreamCallerOf(ctx);
  } catch {
    // Refused (environment, customer token): delegation's root fields report it on each of them.
    return fallback(args);
  }
  if (!plan.requirements.every((r) => satisfies(caller.grants, r))) return fallback(args);
  // What execution would refuse before resolving anything.
  const coerced = getVariableValues(args.schema, plan.operation.variableDefinitions ?? [], args.variableValues ?? {}, {
    maxErrors: 50,
  });
  if (coerced.errors) return { errors: coerced.errors };
  const place = { accountId: caller.claims.kg_account, environmentId: caller.claims.kg_environment };
  for (const key of plan.rootKeys) recordPlace(ctx, place, key);
  const { upstream } = plan;
  await upstream.beforeSend(ctx);
  const result = await upstream.send({
    document: args.document,
    variables: (args.variableValues ?? undefined) as Record<string, unknown> | undefined,
    operationName: args.operationName ?? undefined,
    operationType: plan.operation.operation,
    context: ctx,
  });
  // Only subscriptions and incremental delivery stream, and neither reaches an upstream.
  if (isAsyncIterable(result)) throw new Error(`upstream ${upstream.name} streamed an answer to a ${plan.operation.operation}`);
  if (result.data == null && !result.errors?.some((e) => e.path)) {
    let mine = answered.get(ctx.request);
    if (!mine) {
      mine = new Map();
      answered.set(ctx.request, mine);
    }
    mine.set(upstream.name, result);
    return fallback(args);
  }
  const mark = markUpstreamError(upstream.name);
  return result.errors?.length
    ? { data: result.data, errors: result.errors.map((e) => mark(e as GraphQLError)) }
    : { data: result.data };
}

/** Hands operations one upstream can answer whole to it (see `Passthrough`); the gateway's current state decides. */
export function useUpstreamPassthrough(current: () => { schema: GraphQLSchema; passthrough: Passthrough | null }): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const { schema, passthrough } = current();
      // A reload between validation and execution: the document was checked against the other schema.
      if (!passthrough || args.schema !== schema) return;
      setExecuteFn((a) => execute(a, passthrough, executeFn) as never);
    },
  };
}
