import { createGraphQLError, type ExecutionResult } from '@graphql-tools/utils';
import {
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLError,
  type GraphQLSchema,
  getVariableValues,
  isScalarType,
  Kind,
  type OperationDefinitionNode,
  print,
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
import type { UpstreamResult } from './upstream.fetch.js';

/** What the passthrough needs of a loaded upstream: its schema and rules, its own executor, its identity token. */
export type PassthroughUpstream = Pick<LoadedUpstream, 'name' | 'schema' | 'rules' | 'post'>;

/**
 * An operation the gateway may hand to one upstream whole: every root field
 * is that upstream's, and the fields it selects need `requirements`.
 */
interface Plan {
  upstream: PassthroughUpstream;
  operation: OperationDefinitionNode;
  /** The document as sent, printed once. */
  query: string;
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
    return { upstream, operation, query: print(document), rootKeys, requirements: [...requirements.values()] };
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
  const { text, result } = await upstream.post(
    ctx,
    { query: plan.query, variables: args.variableValues ?? undefined, operationName: args.operationName ?? undefined },
    plan.operation.operation === 'query',
  );
  const errors = result.errors?.map((e) => toGraphQLError(e));
  if (result.data == null && !errors?.some((e) => e.path)) {
    let mine = answered.get(ctx.request);
    if (!mine) {
      mine = new Map();
      answered.set(ctx.request, mine);
    }
    mine.set(upstream.name, { data: null, errors });
    return fallback(args);
  }
  if (errors?.length) {
    const mark = markUpstreamError(upstream.name);
    return { data: result.data, errors: errors.map(mark) };
  }
  return relayed(result, text);
}

/**
 * The upstream's data as the answer. When the upstream answered with data
 * alone, its text is that answer already: Yoga's result processor takes a
 * result's own `stringify` (as it does for graphql-jit's), so the text is
 * sent as it came instead of being serialized anew (for a few kilobytes of
 * data, serializing cost more than the rest of the gateway's own work). The
 * text is used only while the result still holds exactly that data;
 * anything a later step changed or added is serialized as usual.
 */
function relayed(result: UpstreamResult, text: string): ExecutionResult {
  const data = result.data as ExecutionResult['data'];
  if (Object.keys(result).length !== 1) return { data };
  return {
    data,
    stringify: (r: unknown) => {
      const out = r as ExecutionResult;
      return out.data === data && out.errors === undefined && out.extensions === undefined ? text : JSON.stringify(r);
    },
  } as ExecutionResult;
}

/** An error as the upstream wrote it (JSON), as graphql-js and delegation handle errors. */
function toGraphQLError(error: Record<string, unknown>): GraphQLError {
  const path = Array.isArray(error.path) ? (error.path as (string | number)[]) : undefined;
  const extensions =
    error.extensions && typeof error.extensions === 'object' ? (error.extensions as Record<string, unknown>) : {};
  return createGraphQLError(typeof error.message === 'string' ? error.message : 'Upstream error', { path, extensions });
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
