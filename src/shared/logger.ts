import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log record. Secrets must
 * never be logged in the first place; this is the second line of defence.
 */
export const REDACTED_PATHS = [
  'secret',
  '*.secret',
  'apiKey',
  'token',
  '*.token',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-customer-token"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-customer-token"]',
  'variables',
  '*.variables',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ name: 'keygate', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}
