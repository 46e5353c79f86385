/** True when a database error is a unique-constraint violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string } | null;
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === '23505';
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01', // admin_shutdown (pg_terminate_backend, server restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08006',
  'SQLITE_BUSY',
]);

/** True when an error means the database is (for now) unreachable, not that the request was wrong. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && UNAVAILABLE_CODES.has(e.code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}

/**
 * True when the database stopped a statement for running too long:
 * PostgreSQL's statement_timeout (57014, query_canceled, which an operator's
 * pg_cancel_backend also raises) or pg's own query_timeout behind it. The
 * request is not wrong and Keygate did not fail: the database could not
 * answer in time, so it is answered as an outage is (503, Retry-After).
 */
export function isStatementTimeout(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return e?.code === '57014' || e?.message === 'Query read timeout';
}
