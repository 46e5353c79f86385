import {
  type DocumentNode,
  type FieldNode,
  GraphQLError,
  type GraphQLObjectType,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  type OperationTypeNode,
  type SelectionSetNode,
} from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { RequestContext } from '../../context.js';
import { principalOf } from '../../plugins/gatekeeper.js';
import type { Metrics } from '../../plugins/metrics.js';
import { requestIdOf } from '../../plugins/request-id.js';
import type { Clock } from '../../shared/clock.js';
import { isDenial } from '../../shared/errors.js';
import { ulidGenerator } from '../../shared/ids.js';
import type { Principal } from '../auth/principal.js';
import { UNKNOWN_FIELD } from './activity.labels.js';
import type { ActivityPlaces } from './activity.places.js';
import type { ActivityRecorder } from './activity.recorder.js';
import type { ActivityEvent, ActivityOutcome } from './activity.table.js';

/**
 * Root fields of the operation, through fragments, without introspection.
 * Each fragment is entered once: a refused document may spread fragments in
 * a cycle, and this walk runs before validation's refusal is answered.
 */
function rootFields(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, SelectionSetNode>,
  entered: Set<string> = new Set(),
): FieldNode[] {
  return selectionSet.selections.flatMap((s) => {
    if (s.kind === Kind.FIELD) return s.name.value.startsWith('__') ? [] : [s];
    if (s.kind === Kind.INLINE_FRAGMENT) return rootFields(s.selectionSet, fragments, entered);
    const fragment = fragments.get(s.name.value);
    if (!fragment || entered.has(s.name.value)) return [];
    entered.add(s.name.value);
    return rootFields(fragment, fragments, entered);
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
  return { outcome: isDenial(code) ? 'DENIED' : 'ERROR', errorCode: code };
}

/** What the activity log needs from an operation: its type, root type and root fields. */
interface OperationShape {
  operation: OperationTypeNode;
  /** Null for an operation type the schema does not serve (subscriptions). */
  rootType: GraphQLObjectType | null;
  /** The root fields as written (aliases included): an executed operation gets one event each. */
  fields: readonly FieldNode[];
  /** The first root field the schema defines: a refused operation's one event names it. */
  knownField: FieldNode | null;
}

/**
 * Shapes by schema and operation node. Yoga's parser cache hands the same
 * document object to every request with the same query text, so the walk
 * runs once per distinct operation, not once per request; keying by the
 * operation's node (not by the caller's operation name) keeps the cache
 * bounded by the documents Yoga itself keeps.
 */
const shapes = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, OperationShape>>();

function shapeOf(document: DocumentNode, operationName: string | null | undefined, schema: GraphQLSchema) {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  let bySchema = shapes.get(schema);
  if (!bySchema) {
    bySchema = new WeakMap();
    shapes.set(schema, bySchema);
  }
  let shape = bySchema.get(operation);
  if (shape === undefined) {
    const rootType = schema.getRootType(operation.operation);
    const fragments = new Map<string, SelectionSetNode>();
    for (const d of document.definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d.selectionSet);
    }
    const fields = rootType ? rootFields(operation.selectionSet, fragments) : [];
    const defined = rootType?.getFields() ?? {};
    shape = {
      operation: operation.operation,
      rootType: rootType ?? null,
      fields,
      knownField: fields.find((f) => Object.hasOwn(defined, f.name.value)) ?? null,
    };
    bySchema.set(operation, shape);
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
  /** Where each root field's service landed (user calls); none for operations refused before execution. */
  places: ActivityPlaces | null;
  /** Refused before execution (validation): the document may name fields the schema lacks. */
  refused: boolean;
}

/**
 * The activity log (SPEC §3): one event per root field of every operation
 * with its outcome, actor, key and request id, handed to the recorder
 * (nothing is written on the request path). Operations that executed are
 * recorded when execution ends; operations refused by validation (a limit,
 * an unknown field) are recorded then as one ERROR event, under the first
 * root field the schema knows.
 */
export function useActivityLog(recorder: ActivityRecorder, clock: Clock, metrics?: Metrics): Plugin<RequestContext> {
  // Event ids carry the requests' start times: a generator of their own keeps the wall clock's ids monotonic.
  const ulid = ulidGenerator();
  function record({ principal, requestId, startedAt, shape, errors, failed, places, refused }: Call): void {
    const key = principal.kind === 'API_KEY' ? principal.key : null;
    // The id carries the call's time (the event's timestamp is read back from it).
    const at = startedAt.getTime();
    // A refused document is one event, whatever it names: invented names never become rows or labels.
    const nodes: readonly (FieldNode | null)[] = refused ? [shape.knownField] : shape.fields;
    const events: ActivityEvent[] = [];
    for (const node of nodes) {
      const field = node?.name.value ?? UNKNOWN_FIELD;
      const responseKey = node?.alias?.value ?? field;
      const { outcome, errorCode } = outcomeOf(errors, responseKey, failed);
      // A key's environment is its own; a user's call lands where its service reached (SPEC §3).
      const environmentId = key?.environmentId ?? places?.get(responseKey)?.environmentId;
      // A call that reached no environment (a user's `viewer`) is in no environment's log: nothing stores it.
      if (!environmentId) {
        metrics?.operations.inc({ operation: field, outcome });
        continue;
      }
      events.push({
        id: `act_${ulid(at)}`,
        environmentId,
        timestamp: startedAt,
        field,
        operationType: shape.operation,
        outcome,
        errorCode,
        actor: principal.actor,
        apiKeyId: key?.id ?? null,
        requestId,
      });
    }
    recorder.record(events);
    for (const e of events) metrics?.operations.inc({ operation: e.field, outcome: e.outcome });
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
        record({
          principal,
          requestId: requestIdOf(request),
          startedAt,
          shape,
          errors,
          failed: true,
          places: null,
          refused: true,
        });
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
          record({ principal, requestId, startedAt, shape, errors, failed, places: ctx.activityPlaces, refused: false });
        },
      };
    },
  };
}

/** Validation errors concern the document, not a response path: they fail every root field. */
const withoutPath = (error: GraphQLError): GraphQLError =>
  error.path?.length ? new GraphQLError(error.message, { extensions: error.extensions }) : error;
