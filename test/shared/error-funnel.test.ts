import { GraphQLError } from 'graphql';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ReadQueueFull, ReadTimedOut } from '../../src/database/reader.js';
import { codedError, type FailureSite, type FailureStage } from '../../src/shared/error-funnel.js';
import {
  DENIAL_CODES,
  DependencyUnavailable,
  ErrorCode,
  isDenial,
  isErrorCode,
  KeygateError,
  rateLimited,
} from '../../src/shared/errors.js';

const STAGES: readonly FailureStage[] = ['request', 'parse', 'validation', 'execution', 'caught', 'response'];

/** A site at `stage` whose log lines are kept, to see what was logged and at which level. */
function site(stage: FailureStage, requestId: string | null = 'req-1') {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { site: { stage, requestId, logger } satisfies FailureSite, lines };
}

describe('the closed set of error codes (SPEC §7)', () => {
  it('holds UPSTREAM_UNAVAILABLE (SPEC §7), the code of a service behind Keygate that cannot answer', () => {
    expect(isErrorCode('UPSTREAM_UNAVAILABLE')).toBe(true);
    expect(isErrorCode('ORDER_ARCHIVED')).toBe(false);
  });

  it('declares the denials (the activity log’s DENIED) among its codes; other codes and unknown strings are no denial', () => {
    expect([...DENIAL_CODES].sort()).toEqual(['FORBIDDEN', 'INVALID_CUSTOMER_TOKEN', 'UNAUTHENTICATED']);
    expect(isDenial('FORBIDDEN')).toBe(true);
    expect(isDenial('NOT_FOUND')).toBe(false);
    expect(isDenial('SOMETHING_UPSTREAM')).toBe(false);
    expect(isDenial(undefined)).toBe(false);
  });
});

describe('KeygateError', () => {
  it('keeps the status and headers it is given (Retry-After) for a code that has a status of its own', () => {
    expect(rateLimited('Slow down.', 7).extensions.http).toEqual({ status: 429, headers: { 'retry-after': '7' } });
    const unauthenticated = new KeygateError(ErrorCode.UNAUTHENTICATED, 'Who?', {
      http: { headers: { 'www-authenticate': 'Bearer' } },
    });
    expect(unauthenticated.extensions.http).toEqual({ status: 401, headers: { 'www-authenticate': 'Bearer' } });
    expect(new KeygateError(ErrorCode.RATE_LIMITED, 'x', { http: { status: 503 } }).extensions.http).toEqual({ status: 503 });
  });

  it('answers with its code’s status when given none, and carries no http extension for a code without one', () => {
    expect(new KeygateError(ErrorCode.UNAUTHENTICATED, 'Who?').extensions.http).toEqual({ status: 401 });
    expect(new KeygateError(ErrorCode.NOT_FOUND, 'Nothing.').extensions).toEqual({ code: 'NOT_FOUND' });
  });
});

describe('the error funnel', () => {
  it('passes an error of an upstream service through unchanged at every stage, its own code outside the closed set', () => {
    const fromUpstream = new GraphQLError('Order 7 is archived.', {
      path: ['orders', 0, 'status'],
      extensions: { code: 'ORDER_ARCHIVED', upstream: 'orders' },
    });
    const unavailable = new GraphQLError('The orders service is unavailable.', {
      path: ['orders'],
      originalError: new Error('connect ECONNREFUSED 10.0.0.7:4001'),
      extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE, upstream: 'orders' },
    });
    for (const stage of STAGES) {
      expect(codedError(fromUpstream, site(stage).site)).toBe(fromUpstream);
      expect(codedError(unavailable, site(stage).site)).toBe(unavailable);
    }
  });

  it('keeps a closed-set code, and gives BAD_USER_INPUT (Armor’s limit wording fixed) to a GraphQL error without one', () => {
    const forbidden = new KeygateError(ErrorCode.FORBIDDEN, 'Missing permission: keys:write.');
    expect(codedError(forbidden, site('execution').site)).toBe(forbidden);
    const limit = codedError(new GraphQLError('Syntax Error: Query Cost limit of 5000 exceeded.'), site('validation').site);
    expect(limit.message).toBe('Query Cost limit of 5000 exceeded.');
    expect(limit.extensions.code).toBe('BAD_USER_INPUT');
    const foreign = codedError(
      new GraphQLError('Bad.', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
      site('response').site,
    );
    expect(foreign.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses the document for every validation error, one wrapping a scalar’s TypeError too, and leaves it so at the response', () => {
    const literal = new GraphQLError('Expected value of type "DateTime", found "nope"; DateTime must be an ISO-8601 string.', {
      originalError: new TypeError('DateTime must be an ISO-8601 string.'),
    });
    const refused = codedError(literal, site('validation', null).site);
    expect(refused.extensions.code).toBe('BAD_USER_INPUT');
    expect(refused.message).toBe(literal.message);
    expect(codedError(refused, site('response').site)).toBe(refused);
  });

  it('masks a fault to INTERNAL with the request id, logging it as an error and never sending its message', () => {
    const { site: at, lines } = site('execution', 'req-42');
    const fault = new GraphQLError('select * from api_keys failed', { path: ['apiKeys'], originalError: new Error('SQL …') });
    const masked = codedError(fault, at);
    expect(masked.message).toBe('Internal error. Request id: req-42');
    expect(masked.extensions).toEqual({ code: 'INTERNAL', requestId: 'req-42' });
    expect(masked.path).toEqual(['apiKeys']);
    expect(masked.originalError).toBeUndefined();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[50, 'unexpected error']]);
  });

  it('answers an unavailable database or identity provider with 503 and Retry-After, logged as a warning', () => {
    for (const failure of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new DependencyUnavailable('identity provider', 'The keys could not be fetched.'),
      // A statement the database stopped for running too long (statement_timeout), pg's own timer behind it,
      // and the SQLite readers' deadline and full queue: the database could not answer in time.
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
      new Error('Query read timeout'),
      new ReadTimedOut('A read ran longer than 5000 ms; its reader was stopped.'),
      new ReadQueueFull(64),
    ]) {
      const { site: at, lines } = site('request', 'req-7');
      const answer = codedError(failure, at);
      expect(answer.message).toBe('Service temporarily unavailable. Request id: req-7');
      expect(answer.extensions).toEqual({
        code: 'INTERNAL',
        requestId: 'req-7',
        http: { status: 503, headers: { 'retry-after': '1' } },
      });
      expect(lines.map((l) => l.level)).toEqual([40]);
    }
  });

  it('reads a RangeError as a document nested too deeply only while parsing; elsewhere it is a fault', () => {
    const tooDeep = codedError(new RangeError('Maximum call stack size exceeded'), site('parse', null).site);
    expect(tooDeep.extensions.code).toBe('BAD_USER_INPUT');
    expect(tooDeep.message).toBe('The document is nested too deeply.');
    expect(codedError(new RangeError('Invalid time value'), site('execution').site).extensions.code).toBe('INTERNAL');
  });

  it('leaves GraphQL errors to the response stage inside Yoga’s maskError, which logs any error it replaces', () => {
    const uncoded = new GraphQLError('Syntax Error: Unexpected "}".');
    expect(codedError(uncoded, site('caught', null).site)).toBe(uncoded);
    const masked = codedError(new Error('context failed'), site('caught', null).site);
    expect(masked.message).toBe('Internal error.');
    const answered = codedError(masked, site('response', 'req-9').site);
    expect(answered.message).toBe('Internal error. Request id: req-9');
    expect(answered.extensions).toEqual({ code: 'INTERNAL', requestId: 'req-9' });
  });
});
