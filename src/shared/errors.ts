import { GraphQLError } from 'graphql';

/** The closed set of error codes clients may see (SPEC §7). */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  PLAN_UPGRADE_REQUIRED: 'PLAN_UPGRADE_REQUIRED',
  IMMUTABLE_KEY: 'IMMUTABLE_KEY',
  CONFLICT: 'CONFLICT',
  INVALID_CUSTOMER_TOKEN: 'INVALID_CUSTOMER_TOKEN',
  RATE_LIMITED: 'RATE_LIMITED',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Whether a value is one of the closed set's codes. */
export const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && CODES.has(code);

/** The codes that refuse the caller (who they are, or what they may do): the activity log's DENIED outcome. */
export const DENIAL_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.FORBIDDEN,
  ErrorCode.INVALID_CUSTOMER_TOKEN,
  ErrorCode.UNAUTHENTICATED,
]);

/** Whether an error code refuses the caller (see DENIAL_CODES). */
export const isDenial = (code: unknown): boolean => isErrorCode(code) && DENIAL_CODES.has(code);

/** The HTTP status a code answers with when nothing more specific is given (a partial result stays 200). */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
};

/** How an error shapes the HTTP response (Yoga reads `extensions.http` and leaves it out of the body). */
export interface HttpExtension {
  status?: number;
  headers?: Readonly<Record<string, string>>;
}

/** An expected failure with a client-facing code; everything else is masked to INTERNAL. */
export class KeygateError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> & { http?: HttpExtension } = {}) {
    // What the caller passes (a 413, a Retry-After) refines the code's status instead of being replaced by it.
    const status = HTTP_STATUS[code];
    const http = { ...(status ? { status } : {}), ...extra.http };
    super(message, {
      extensions: { code, ...extra, ...(Object.keys(http).length ? { http } : {}) },
    });
    this.code = code;
  }
}

/**
 * A service Keygate depends on (the database, an identity provider) cannot
 * answer for now: not a fault of Keygate's nor the caller's, so it is
 * answered 503 with Retry-After (see the error funnel), not masked as a fault.
 */
export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: string,
    message: string,
  ) {
    super(message);
  }
}

/** One message for every failed authentication: it never says whether a key exists. */
export const UNAUTHENTICATED_MESSAGE = 'Authentication required: send a valid API key or session token.';

export const unauthenticated = () => new KeygateError(ErrorCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);

/** 429 with the seconds until the caller may try again. */
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new KeygateError(ErrorCode.RATE_LIMITED, message, { http: { headers: { 'retry-after': String(retryAfterSeconds) } } });

export const notFound = (what: string) => new KeygateError(ErrorCode.NOT_FOUND, `${what} not found.`);

export const forbidden = (message: string) => new KeygateError(ErrorCode.FORBIDDEN, message);

export const missingPermission = (permissions: readonly string[]) =>
  new KeygateError(ErrorCode.FORBIDDEN, `Missing permission: ${permissions.join(' and ')}.`, {
    requiredPermissions: [...permissions],
  });

export const badInput = (field: string, message: string) =>
  new KeygateError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });

export const conflict = (message: string) => new KeygateError(ErrorCode.CONFLICT, message);

export const immutableKey = (message: string) => new KeygateError(ErrorCode.IMMUTABLE_KEY, message);

export const planUpgradeRequired = (message: string) => new KeygateError(ErrorCode.PLAN_UPGRADE_REQUIRED, message);
