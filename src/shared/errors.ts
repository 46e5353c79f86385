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
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
};

/** An expected failure with a client-facing code; everything else is masked to INTERNAL. */
export class KeygateError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    const status = HTTP_STATUS[code];
    super(message, {
      extensions: { code, ...extra, ...(status ? { http: { status } } : {}) },
    });
    this.code = code;
  }
}

/**
 * The database cannot be reached for now: every layer (gatekeeper, execution,
 * context building) answers the same way, 503 with Retry-After, coded
 * INTERNAL, so clients can retry without parsing messages.
 */
export const SERVICE_UNAVAILABLE = {
  message: 'Service temporarily unavailable.',
  status: 503,
  headers: { 'retry-after': '1' },
} as const;

export const serviceUnavailable = (suffix = '') =>
  new KeygateError(ErrorCode.INTERNAL, `${SERVICE_UNAVAILABLE.message}${suffix}`, {
    http: { status: SERVICE_UNAVAILABLE.status, headers: SERVICE_UNAVAILABLE.headers },
  });

/** One message for every failed authentication: it never says whether a key exists. */
export const UNAUTHENTICATED_MESSAGE = 'Authentication required: send a valid API key or session token.';

export const unauthenticated = () => new KeygateError(ErrorCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);

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
