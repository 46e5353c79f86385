import {
  type DocumentNode,
  type FieldNode,
  type GraphQLError,
  type GraphQLObjectType,
  getArgumentValues,
  getOperationAST,
  Kind,
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
export function useActivityLog(recorder: ActivityRecorder, metrics?: Metrics): Plugin<RequestContext> {
  return {
    onExecute({ args }) {
      const ctx = args.contextValue;
      const startedAt = ctx.clock.now();
      return {
        onExecuteDone({ result }) {
          if (!('data' in result) && !('errors' in result)) return;
          const operation = getOperationAST(args.document, args.operationName);
          const rootType: GraphQLObjectType | null | undefined = operation && args.schema.getRootType(operation.operation);
          if (!operation || !rootType) return;
          const fragments = new Map<string, SelectionSetNode>();
          for (const d of (args.document as DocumentNode).definitions) {
            if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d.selectionSet);
          }
          const errors = result.errors ?? [];
          const { principal, requestId } = ctx;
          const events: PendingActivity[] = rootFields(operation.selectionSet, fragments).map((node) => {
            const field = node.name.value;
            const { outcome, errorCode } = outcomeOf(errors, node.alias?.value ?? field);
            let fieldArgs: Record<string, unknown> = {};
            const definition = rootType.getFields()[field];
            if (definition) {
              try {
                fieldArgs = getArgumentValues(definition, node, args.variableValues ?? {});
              } catch {
                // Invalid arguments: the call failed; its place stays unknown.
              }
            }
            const key = principal.kind === 'API_KEY' ? principal.key : null;
            return {
              row: {
                id: newId('act'),
                account_id: key?.account_id ?? null,
                environment_id: key?.environment_id ?? null,
                action: activityLabel(field),
                field,
                operation_type: operation.operation,
                outcome,
                error_code: errorCode,
                actor_type: principal.actor.type,
                actor_id: principal.actor.id,
                actor_name: principal.actor.displayName,
                api_key_id: key?.id ?? null,
                request_id: requestId,
                created_at: startedAt.toISOString(),
              },
              locateBy: key ? null : locator(fieldArgs),
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
