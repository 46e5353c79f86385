import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

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
  'headers["x-customer-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-customer-token"]',
  'req.headers["x-customer-key"]',
  'variables',
  '*.variables',
];

/** Standard output, and the environment that decides how logs are written to it. */
export interface LogOutput {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/** Readable lines for a person at a terminal outside production; JSON for collectors, pipes and files. */
export function prettyLogs({ stdout, env }: LogOutput): boolean {
  return stdout.isTTY === true && env.NODE_ENV !== 'production';
}

/**
 * Keygate's logger: JSON lines to `destination` (tests capture them) or to
 * standard output, pretty-printed by pino-pretty when standard output is a
 * terminal outside production. Redaction applies either way.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  output: LogOutput = { stdout: process.stdout, env: process.env },
): Logger {
  const options: LoggerOptions = { name: 'keygate', level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  if (destination) return pino(options, destination);
  if (prettyLogs(output)) {
    // Loaded only here: servers and tests that log JSON never load it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino(
      options,
      pretty({ destination: output.stdout, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  // pino's own writer to file descriptor 1, unless another stream stands in for standard output.
  return output.stdout === process.stdout ? pino(options, pino.destination(STDOUT_BUFFERING)) : pino(options, output.stdout);
}

/**
 * How log lines reach standard output (sonic-boom, pino's writer): gathered
 * into writes of at least 4 KiB, and whatever is gathered written at least
 * every second, instead of one write per line. A write is a trip through
 * libuv's thread pool that wakes the event loop again when it is done: one
 * per access-log line cost a busy `viewer` stream about 8 % of its
 * throughput in an alternated A/B run here.
 * The buffer is bounded: a standard output that takes nothing (a stuck log
 * collector) drops lines past 16 MiB instead of growing memory. The lines of
 * the last second are flushed when the process exits (pino does it on
 * exit); a process killed outright (SIGKILL) loses at most those.
 */
const STDOUT_BUFFERING = {
  dest: 1,
  sync: false,
  minLength: 4096,
  periodicFlush: 1000,
  maxLength: 16 * 1024 * 1024,
} as const;
