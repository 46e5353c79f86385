import {
  type DocumentNode,
  type FieldNode,
  GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  getArgumentValues,
  getOperationAST,
  Kind,
  type OperationTypeNode,
  type SelectionSetNode,
} from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { RequestContext } from '../../context.js';
import { principalOf } from '../../plugins/gatekeeper.js';
import type { Metrics } from '../../plugins/metrics.js';
import { requestIdOf } from '../../plugins/request-id.js';
import type { Clock } from '../../shared/clock.js';
import { newId } from '../../shared/ids.js';
import type { Principal } from '../auth/principal.js';
import { activityLabel } from './activity.labels.js';
import type { ActivityRecorder, PendingActivity } from './activity.recorder.js';
import type { ActivityOutcome } from './activity.table.js';

const DENIAL_CODES = new Set(['FORBIDDEN', 'INVALID_CUSTOMER_TOKEN', 'UNAUTHENTICATED']);

/** Root fields of the operation, through fragments, without introspection. */
function rootFields(selectionSet: SelectionSetNode, fragments: Map<string, SelectionSetNode>): FieldNode[] {
  return selectionSet.selections.flatMap((s) => {
    if (s.kind === Kind.FIELD) return s.name.value.startsWith('__') ? [] : [s];
    if (s.kind === Kind.INLINE_FRAGMENT) return rootFields(s.selectionSet, fragments);
    const fragment = fragments.get(s.name.value);
    return fragment ? rootFields(fragment, fragments) : [];
  });
}

/**
 * A root field's outcome: its own error, else an error of the whole
 * operation (invalid variables, say), else, when the operation produced no
 * data at all (another non-null root field failed), the first error: the
 * field's result was thrown away with the rest.
 */
function outcomeOf(
  errors: readonly GraphQLError[],
  responseKey: string,
  operationFailed: boolean,
): { outcome: ActivityOutcome; errorCode: string | null } {
  const error =
    errors.find((e) => e.path?.[0] === responseKey) ??
    errors.find((e) => !e.path?.length) ??
    (operationFailed ? errors[0] : undefined);
  if (!error) return { outcome: 'SUCCESS', errorCode: null };
  const code = String(error.extensions?.code ?? 'INTERNAL');
  return { outcome: DENIAL_CODES.has(code) ? 'DENIED' : 'ERROR', errorCode: code };
}

/** The id of the place a user's call concerns, from its arguments. */
function locator(args: Record<string, unknown>): string | null {
  const input = (args.input ?? {}) as Record<string, unknown>;
  for (const value of [args.environmentId, input.environmentId, args.id, input.id]) {
    if (typeof value === 'string' && value) return value;
  }
  return null;
}

/** What the activity log needs from an operation: its type, root type and root fields. */
interface OperationShape {
  operation: OperationTypeNode;
  rootType: GraphQLObjectType;
  fields: readonly FieldNode[];
}

/**
 * Shapes by document and operation name. Yoga's parser cache hands the same
 * document object to every request with the same query text, so the walk
 * runs once per distinct query, not once per request.
 */
const shapes = new WeakMap<DocumentNode, Map<string | null, OperationShape | null>>();

function shapeOf(document: DocumentNode, operationName: string | null | undefined, schema: GraphQLSchema) {
  let byName = shapes.get(document);
  if (!byName) {
    byName = new Map();
    shapes.set(document, byName);
  }
  const name = operationName ?? null;
  let shape = byName.get(name);
  if (shape === undefined) {
    const operation = getOperationAST(document, name);
    const rootType = operation && schema.getRootType(operation.operation);
    const fragments = new Map<string, SelectionSetNode>();
    for (const d of document.definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d.selectionSet);
    }
    shape =
      operation && rootType
        ? { operation: operation.operation, rootType, fields: rootFields(operation.selectionSet, fragments) }
        : null;
    byName.set(name, shape);
  }
  return shape;
}

interface Call {
  principal: Principal;
  requestId: string;
  startedAt: Date;
  shape: OperationShape;
  errors: readonly GraphQLError[];
  /** True when the response carries no data (the operation failed as a whole). */
  failed: boolean;
  variables: Record<string, unknown> | null | undefined;
}

/**
 * The activity log (SPEC §3): one event per root field of every operation
 * with its outcome, actor, key and request id, handed to the recorder
 * (nothing is written on the request path). Operations that executed are
 * recorded when execution ends; operations refused by validation (a limit,
 * an unknown field) are recorded then, every root field as ERROR.
 */
export function useActivityLog(recorder: ActivityRecorder, clock: Clock, metrics?: Metrics): Plugin<RequestContext> {
  function record({ principal, requestId, startedAt, shape, errors, failed, variables }: Call): void {
    const key = principal.kind === 'API_KEY' ? principal.key : null;
    const createdAt = startedAt.toISOString();
    const events: PendingActivity[] = shape.fields.map((node) => {
      const field = node.name.value;
      const { outcome, errorCode } = outcomeOf(errors, node.alias?.value ?? field, failed);
      return {
        row: {
          id: newId('act'),
          account_id: key?.account_id ?? null,
          environment_id: key?.environment_id ?? null,
          action: activityLabel(field),
          field,
          operation_type: shape.operation,
          outcome,
          error_code: errorCode,
          actor_type: principal.actor.type,
          actor_id: principal.actor.id,
          actor_name: principal.actor.displayName,
          api_key_id: key?.id ?? null,
          request_id: requestId,
          created_at: createdAt,
        },
        // A key's environment is known; a user's call is placed by the object it names.
        locateBy: key ? null : locator(argumentsOf(shape.rootType, node, variables)),
        reachableAccounts: principal.kind === 'USER' ? [...principal.roles.keys()] : [],
      };
    });
    recorder.record(events);
    for (const { row } of events) metrics?.operations.inc({ operation: row.field, outcome: row.outcome });
  }

  return {
    onValidate({ context, params }) {
      return ({ result }) => {
        if (!result.length) return;
        const startedAt = clock.now();
        const { request, params: request_params } = context as { request?: Request; params?: GraphQLParams };
        const principal = request && principalOf(request);
        const shape = principal && shapeOf(params.documentAST, request_params?.operationName, params.schema);
        if (!request || !principal || !shape) return;
        const errors = result.map((e) => withoutPath(e));
        const variables = request_params?.variables ?? null;
        record({ principal, requestId: requestIdOf(request), startedAt, shape, errors, failed: true, variables });
      };
    },
    onExecute({ args }) {
      const ctx = args.contextValue;
      const startedAt = ctx.clock.now();
      return {
        onExecuteDone({ result }) {
          if (!('data' in result) && !('errors' in result)) return;
          const shape = shapeOf(args.document, args.operationName, args.schema);
          if (!shape) return;
          const errors = result.errors ?? [];
          const failed = errors.length > 0 && (result.data === null || result.data === undefined);
          const { principal, requestId } = ctx;
          record({ principal, requestId, startedAt, shape, errors, failed, variables: args.variableValues });
        },
      };
    },
  };
}

/** Validation errors concern the document, not a response path: they fail every root field. */
const withoutPath = (error: GraphQLError): GraphQLError =>
  error.path?.length ? new GraphQLError(error.message, { extensions: error.extensions }) : error;

function argumentsOf(
  rootType: GraphQLObjectType,
  node: FieldNode,
  variables: Record<string, unknown> | null | undefined,
): Record<string, unknown> {
  const definition = rootType.getFields()[node.name.value];
  if (!definition) return {};
  try {
    return getArgumentValues(definition, node, variables ?? {});
  } catch {
    // Invalid arguments: the call failed; its place stays unknown.
    return {};
  }
}
