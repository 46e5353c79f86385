import {
  type DocumentNode,
  type FieldNode,
  type GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  getArgumentValues,
  getOperationAST,
  Kind,
  type OperationTypeNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from '../../context.js';
import type { Metrics } from '../../plugins/metrics.js';
import { newId } from '../../shared/ids.js';
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

function outcomeOf(errors: readonly GraphQLError[], responseKey: string): { outcome: ActivityOutcome; errorCode: string | null } {
  // An error without a path (invalid variables, say) failed the whole operation, so every root field.
  const error = errors.find((e) => e.path?.[0] === responseKey) ?? errors.find((e) => !e.path?.length);
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

/**
 * The activity log (SPEC §3): after each execution, one event per root field
 * with its outcome, actor, key and request id, handed to the recorder. Nothing
 * is written on the request path.
 */
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

/**
 * The activity log (SPEC §3): after each execution, one event per root field
 * with its outcome, actor, key and request id, handed to the recorder. Nothing
 * is written on the request path.
 */
export function useActivityLog(recorder: ActivityRecorder, metrics?: Metrics): Plugin<RequestContext> {
  return {
    onExecute({ args }) {
      const ctx = args.contextValue;
      const startedAt = ctx.clock.now();
      return {
        onExecuteDone({ result }) {
          if (!('data' in result) && !('errors' in result)) return;
          const shape = shapeOf(args.document, args.operationName, args.schema);
          if (!shape) return;
          const errors = result.errors ?? [];
          const { principal, requestId } = ctx;
          const key = principal.kind === 'API_KEY' ? principal.key : null;
          const createdAt = startedAt.toISOString();
          const events: PendingActivity[] = shape.fields.map((node) => {
            const field = node.name.value;
            const { outcome, errorCode } = outcomeOf(errors, node.alias?.value ?? field);
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
              locateBy: key ? null : locator(argumentsOf(shape.rootType, node, args.variableValues)),
              reachableAccounts: principal.kind === 'USER' ? [...principal.roles.keys()] : [],
            };
          });
          recorder.record(events);
          for (const { row } of events) metrics?.operations.inc({ operation: row.field, outcome: row.outcome });
        },
      };
    },
  };
}

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
