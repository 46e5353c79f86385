import { GraphQLError, type GraphQLErrorExtensions } from 'graphql';
import type { Logger } from 'pino';
import { isDatabaseUnavailable, isStatementTimeout } from '../database/errors.js';
import { limitMessage } from '../plugins/armor.js';
import { DependencyUnavailable, ErrorCode, isErrorCode, KeygateError } from './errors.js';

/**
 * Where a failure surfaced; a few rules depend on it. A RangeError out of the
 * parser is a document nested too deeply (elsewhere a fault). Every
 * validation error refuses the document, whatever it wraps (a scalar's
 * TypeError names the bad literal). Yoga's maskError (`caught`) leaves
 * GraphQL errors as they are, because Yoga logs every error its maskError
 * replaces as a fault. By the `response`, faults were masked where they
 * surfaced, so there only codes count.
 */
export type FailureStage = 'request' | 'parse' | 'validation' | 'execution' | 'caught' | 'response';

export interface FailureSite {
  stage: FailureStage;
  /**
   * The request's id, or null where it is not known (Yoga's maskError) or
   * must not be used (parse and validation errors are cached across
   * requests): the response stage adds it to an INTERNAL error then.
   */
  requestId: string | null;
  logger: Logger;
}

/**
 * What a database or identity-provider outage answers, and a statement the
 * database stopped for running too long (or a full read queue): 503 with
 * Retry-After, coded INTERNAL (the closed set has no code of its own for
 * it), so clients retry without parsing messages.
 */
const UNAVAILABLE = {
  message: 'Service temporarily unavailable.',
  http: { status: 503, headers: { 'retry-after': '1' } },
} as const;

/**
 * PostgreSQL's refusals of NUL: 22021 (text cannot hold it) and 22P05 (jsonb
 * cannot hold \u0000), each with the kind of argument it came in.
 */
const NUL_REFUSED = new Map([
  ['22021', 'Text'],
  ['22P05', 'JSON'],
]);

/**
 * The one way a failure leaves Keygate (SPEC §7): as a GraphQL error with a
 * code from the closed set, its HTTP status and headers in `extensions.http`.
 * Errors of the services behind Keygate (`extensions.upstream`) pass as they
 * came, with their own code; expected failures keep their code; document,
 * variable and other GraphQL errors without one are BAD_USER_INPUT; a
 * dependency that cannot answer is 503; anything else is a fault, logged and
 * masked to INTERNAL with the request id, never its message, stack or SQL.
 */
export function codedError(failure: unknown, site: FailureSite): GraphQLError {
  if (failure instanceof GraphQLError) {
    if (typeof failure.extensions.upstream === 'string') return failure;
    if (site.stage === 'validation') return withCode(failure, ErrorCode.BAD_USER_INPUT, limitMessage(failure.message));
    const original = failure.originalError;
    if (original && !(original instanceof GraphQLError) && site.stage !== 'response') return fault(original, site, failure);
    return site.stage === 'caught' ? failure : refusal(failure, site.requestId);
  }
  if (site.stage === 'parse' && failure instanceof RangeError) {
    // A document nested deep enough to exhaust the parser's stack is bad input, not a server fault.
    return new KeygateError(ErrorCode.BAD_USER_INPUT, 'The document is nested too deeply.');
  }
  return fault(failure, site);
}

/** A GraphQL error that is no fault: its closed-set code, or BAD_USER_INPUT; an INTERNAL one names the request. */
function refusal(error: GraphQLError, requestId: string | null): GraphQLError {
  const code = error.extensions.code;
  if (!isErrorCode(code)) return withCode(error, ErrorCode.BAD_USER_INPUT, limitMessage(error.message));
  if (code === ErrorCode.INTERNAL && requestId && !error.extensions.requestId) {
    return withCode(error, code, `${error.message} Request id: ${requestId}`, { requestId });
  }
  return error;
}

function fault(failure: unknown, { stage, requestId, logger }: FailureSite, located?: GraphQLError): GraphQLError {
  const path = located?.path?.join('.');
  const sqlState = (failure as { code?: unknown } | null)?.code;
  if (typeof sqlState === 'string' && NUL_REFUSED.has(sqlState)) {
    // Last resort: the input-text rule (shared/validation.ts) refuses NUL before any query, so reaching
    // here means an input lacks it; the warning names the path. SQLite would have stored the text.
    logger.warn({ requestId, sqlState, path }, 'PostgreSQL refused a NUL character: an input lacks the text rule');
    return new GraphQLError(`${NUL_REFUSED.get(sqlState)} arguments must not contain NUL (\\u0000) characters.`, {
      nodes: located?.nodes,
      source: located?.source,
      positions: located?.positions,
      path: located?.path,
      // No originalError: Yoga's masking would take the database error underneath for a fault and mask it to INTERNAL.
      extensions: { ...located?.extensions, code: ErrorCode.BAD_USER_INPUT },
    });
  }
  const dependency =
    failure instanceof DependencyUnavailable
      ? failure.dependency
      : isDatabaseUnavailable(failure) || isStatementTimeout(failure)
        ? 'database'
        : null;
  if (dependency) {
    logger.warn({ err: failure, requestId, path, stage }, `${dependency} unavailable`);
    return internal(UNAVAILABLE.message, requestId, located, { http: UNAVAILABLE.http });
  }
  logger.error(
    { err: failure, requestId, path, stage },
    stage === 'execution' ? 'unexpected error' : 'unexpected error outside execution',
  );
  return internal('Internal error.', requestId, located);
}

/** INTERNAL, with no originalError for Yoga to unmask, and the request id when it is known. */
function internal(message: string, requestId: string | null, located?: GraphQLError, extra: Record<string, unknown> = {}) {
  return new GraphQLError(requestId ? `${message} Request id: ${requestId}` : message, {
    nodes: located?.nodes,
    positions: located?.positions,
    path: located?.path,
    extensions: { code: ErrorCode.INTERNAL, ...(requestId ? { requestId } : {}), ...extra },
  });
}

const withCode = (error: GraphQLError, code: ErrorCode, message: string, extra: Record<string, unknown> = {}) =>
  reworded(error, message, { ...error.extensions, code, ...extra });

/** A copy of a GraphQL error (where it was, what it wraps) with another message and extensions. */
export function reworded(error: GraphQLError, message: string, extensions: GraphQLErrorExtensions): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions,
  });
}
