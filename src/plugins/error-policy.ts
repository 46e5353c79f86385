import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { RequestContext } from '../context.js';
import { isDatabaseUnavailable } from '../database/errors.js';
import { ErrorCode, KeygateError, SERVICE_UNAVAILABLE } from '../shared/errors.js';
import { limitMessage } from './armor.js';
import { requestIdOf } from './request-id.js';

function withCode(
  error: GraphQLError,
  code: ErrorCode,
  message = error.message,
  extra: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code, ...extra },
  });
}

/**
 * PostgreSQL's refusals of NUL: 22021 (text cannot hold it) and 22P05 (jsonb
 * cannot hold \u0000), each with the kind of argument it came in.
 */
const NUL_REFUSED = new Map([
  ['22021', 'Text'],
  ['22P05', 'JSON'],
]);

/**
 * Every error leaves with a code from the closed set (SPEC §7): expected
 * failures keep theirs, document and variable errors become BAD_USER_INPUT,
 * anything unexpected is logged and masked to INTERNAL with the request id.
 */
export function classifyError(error: GraphQLError, requestId: string, logger: Logger): GraphQLError {
  const original = error.originalError;
  if (
    original instanceof KeygateError ||
    (!original && typeof error.extensions.code === 'string' && error.extensions.code in ErrorCode)
  ) {
    return error;
  }
  if (!original || original instanceof GraphQLError) return withCode(error, ErrorCode.BAD_USER_INPUT);
  const sqlState = (original as { code?: unknown }).code;
  if (typeof sqlState === 'string' && NUL_REFUSED.has(sqlState)) {
    // Last resort: the input-text rule (shared/validation.ts) refuses NUL before any query, so reaching
    // here means an input lacks it; the warning names the path. SQLite would have stored the text.
    logger.warn(
      { requestId, sqlState, path: error.path?.join('.') },
      'PostgreSQL refused a NUL character: an input lacks the text rule',
    );
    return new GraphQLError(`${NUL_REFUSED.get(sqlState)} arguments must not contain NUL (\\u0000) characters.`, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      // No originalError: Yoga's masking would take the database error underneath for a fault and mask it to INTERNAL.
      extensions: { ...error.extensions, code: ErrorCode.BAD_USER_INPUT },
    });
  }
  if (isDatabaseUnavailable(original)) {
    logger.warn({ err: original, requestId, path: error.path?.join('.') }, 'database unavailable');
    const { message, status, headers } = SERVICE_UNAVAILABLE;
    return new GraphQLError(`${message} Request id: ${requestId}`, {
      nodes: error.nodes,
      positions: error.positions,
      path: error.path,
      extensions: { code: ErrorCode.INTERNAL, requestId, http: { status, headers } },
    });
  }
  logger.error({ err: original, requestId, path: error.path?.join('.') }, 'unexpected error');
  return new GraphQLError(`Internal error. Request id: ${requestId}`, {
    nodes: error.nodes,
    positions: error.positions,
    path: error.path,
    extensions: { code: ErrorCode.INTERNAL, requestId },
  });
}

const CODES = new Set<string>(Object.values(ErrorCode));

type OutgoingError = GraphQLError | { message: string; extensions?: Record<string, unknown> };

/**
 * Gives a code to an error that left without one (request, parse and
 * validation errors: bad input), and the request id to an INTERNAL error
 * masked before execution, as execution's own masking does.
 */
function ensureCode(error: OutgoingError, requestId: string): OutgoingError {
  const code = error.extensions?.code;
  if (code === ErrorCode.INTERNAL && !error.extensions?.requestId) {
    const message = `${error.message} Request id: ${requestId}`;
    const extensions = { ...error.extensions, requestId };
    return error instanceof GraphQLError ? withCode(error, ErrorCode.INTERNAL, message, extensions) : { message, extensions };
  }
  if (typeof code === 'string' && CODES.has(code)) return error;
  return error instanceof GraphQLError
    ? withCode(error, ErrorCode.BAD_USER_INPUT, limitMessage(error.message))
    : { ...error, message: limitMessage(error.message), extensions: { ...error.extensions, code: ErrorCode.BAD_USER_INPUT } };
}

export function useErrorPolicy(logger: Logger): Plugin<RequestContext> {
  return {
    // Last line of defence: whatever produced an error (request parsing, a validation rule of a
    // plugin, an HTTP-level refusal such as a mutation over GET), it leaves with a closed-set code.
    onResultProcess({ request, result, setResult }) {
      if (Array.isArray(result) || !result || Symbol.asyncIterator in result || !result.errors?.length) return;
      const requestId = requestIdOf(request);
      setResult({ ...result, errors: result.errors.map((e) => ensureCode(e, requestId) as GraphQLError) });
    },
    // A document nested deep enough to exhaust the parser's stack is bad input, not a server fault.
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, options);
        } catch (error) {
          if (error instanceof RangeError) throw new KeygateError(ErrorCode.BAD_USER_INPUT, 'The document is nested too deeply.');
          throw error;
        }
      });
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length) setResult(result.map((e) => withCode(e, ErrorCode.BAD_USER_INPUT, limitMessage(e.message))));
      };
    },
    onExecute({ args }) {
      const { requestId } = args.contextValue;
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.length) return;
          setResult({ ...result, errors: result.errors.map((e) => classifyError(e, requestId, logger)) });
        },
      };
    },
  };
}
