import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Response } from '@whatwg-node/fetch';
import type { Logger } from 'pino';
import { ErrorCode } from '../../shared/errors.js';
import type { UpstreamConfig } from './upstream.config.js';

/** The code upstream faults answer with, on the upstream's fields only (SPEC §9). */
export const UPSTREAM_UNAVAILABLE = ErrorCode.UPSTREAM_UNAVAILABLE;

/** Why an upstream answer was not usable; logged, never shown to callers. */
type Fault = 'unreachable' | 'timeout' | 'server error' | 'too large' | 'not GraphQL';

/** The answer Keygate gives in place of an unusable upstream response: its name, never its URL or internals. */
export function unavailableBody(upstream: string): string {
  return JSON.stringify({
    data: null,
    errors: [{ message: `Upstream ${upstream} is unavailable.`, extensions: { code: UPSTREAM_UNAVAILABLE } }],
  });
}

const isGraphQLResult = (value: unknown): boolean =>
  !!value && typeof value === 'object' && !Array.isArray(value) && ('data' in value || 'errors' in value);

/** Connections one upstream may have open at once; more requests wait for one (within their deadline). */
const MAX_SOCKETS = 128;
/**
 * An idle kept-alive connection is closed after this long: sooner than the
 * usual server keep-alive timeout (Node's 5 s), so Keygate seldom reuses a
 * connection the upstream is closing.
 */
const IDLE_SOCKET_MS = 4000;

type Exchange =
  | { kind: 'answer'; status: number; body: string }
  | { kind: 'too large' }
  | { kind: 'failed'; error: Error; reusedSocket: boolean };

/** Request headers as Node's client takes them (the executor and the SDL read pass a plain object). */
function headersOf(headers: RequestInit['headers']): Record<string, string> {
  if (!headers) return {};
  if (Array.isArray(headers) || typeof (headers as Headers).entries === 'function')
    return Object.fromEntries(headers as Iterable<[string, string]>);
  return headers as Record<string, string>;
}

/** When the whole exchange must be over (a retry included), and whether that moment came. */
interface Deadline {
  at: number;
  passed: boolean;
}

/**
 * One POST over `agent`, within `deadline` (a timer of its own, not an
 * AbortSignal: `AbortSignal.timeout` and `AbortSignal.any` cost more than
 * the rest of the exchange), given up when `signal` aborts, its body read up
 * to `limit` bytes (the rest is not read).
 */
function exchange(url: URL, init: RequestInit, agent: http.Agent, limit: number, deadline: Deadline): Promise<Exchange> {
  const client = url.protocol === 'https:' ? https : http;
  const signal = init.signal ?? null;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: Exchange) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      resolve(result);
    };
    const req = client.request(url, { method: init.method ?? 'POST', headers: headersOf(init.headers), agent });
    const fail = (error: Error) => settle({ kind: 'failed', error, reusedSocket: req.reusedSocket });
    const abort = () => req.destroy(new Error('aborted'));
    const timer = setTimeout(
      () => {
        deadline.passed = true;
        req.destroy(new Error('no answer within the upstream timeout'));
      },
      Math.max(0, deadline.at - Date.now()),
    );
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (Number(res.headers['content-length'] ?? 0) > limit) {
        res.destroy();
        return settle({ kind: 'too large' });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > limit) {
          res.destroy();
          return settle({ kind: 'too large' });
        }
        chunks.push(chunk);
      });
      res.on('end', () => settle({ kind: 'answer', status, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => settle({ kind: 'failed', error, reusedSocket: false }));
      // Cut off mid-body (the deadline, the upstream going away): no answer.
      res.on('close', () => {
        if (!res.complete) settle({ kind: 'failed', error: new Error('the answer was cut off'), reusedSocket: false });
      });
    });
    req.end(typeof init.body === 'string' ? init.body : undefined);
  });
}

/** A GraphQL result an upstream gave, or the one Keygate gives in its place: `UPSTREAM_UNAVAILABLE`. */
export type UpstreamResult = { data?: unknown; errors?: readonly Record<string, unknown>[] } & Record<string, unknown>;

/** Sends one GraphQL request body to the upstream and resolves its answer, never rejecting. */
export type UpstreamPost = (body: string, headers: Record<string, string>) => Promise<UpstreamAnswer>;

/**
 * How Keygate talks to one upstream. Node's HTTP client over a kept-alive
 * agent of its own (connections are reused; a fraction of the CPU of the
 * global fetch, whose web streams and Request objects cost more than the
 * rest of a gateway request: README "Performance"), a deadline of
 * `timeoutMs` for the whole exchange, redirects not followed, and the body
 * read up to `maxResponseBytes`. Whatever goes wrong (no answer in time, a
 * 5xx, a body that is not a GraphQL result, one that is too large) becomes
 * a GraphQL result carrying `UPSTREAM_UNAVAILABLE`, so callers only ever
 * see GraphQL.
 *
 * `fetch` is what graphql-tools' HTTP executor (delegation) and the SDL read
 * go through; `post` is the passthrough's (upstream.passthrough.ts): the
 * same exchange, its answer parsed once and handed over as it is, without
 * a Response object for the executor to read and parse again.
 */
export function upstreamClient(upstream: UpstreamConfig, logger: Logger): { fetch: UpstreamFetch; post: UpstreamPost } {
  const target = new URL(upstream.url);
  const options = { keepAlive: true, maxSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS };
  const agent = target.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  const unavailable = (fault: Fault, detail?: unknown): UpstreamAnswer => {
    logger.warn({ upstream: upstream.name, fault, err: detail instanceof Error ? detail : undefined }, 'upstream unavailable');
    const text = unavailableBody(upstream.name);
    return { text, result: JSON.parse(text) as UpstreamResult };
  };
  const call = async (url: URL, init: RequestInit): Promise<UpstreamAnswer> => {
    const deadline: Deadline = { at: Date.now() + upstream.timeoutMs, passed: false };
    let result = await exchange(url, init, agent, upstream.maxResponseBytes, deadline);
    // A kept-alive connection the upstream closed as it was reused: the request never reached it (Node's advice: retry once).
    if (result.kind === 'failed' && result.reusedSocket && (result.error as NodeJS.ErrnoException).code === 'ECONNRESET')
      result = await exchange(url, init, agent, upstream.maxResponseBytes, deadline);
    if (result.kind === 'failed') return unavailable(deadline.passed ? 'timeout' : 'unreachable', result.error);
    if (result.kind === 'too large') return unavailable('too large');
    if (result.status >= 500 || (result.status >= 300 && result.status < 400)) return unavailable('server error');
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.body);
    } catch {
      return unavailable('not GraphQL');
    }
    return isGraphQLResult(parsed) ? { text: result.body, result: parsed as UpstreamResult } : unavailable('not GraphQL');
  };
  const json = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  return {
    fetch: async (url, init = {}) =>
      new Response((await call(new URL(url), init)).text, { status: 200, headers: { 'content-type': 'application/json' } }),
    post: (body, headers) => call(target, { method: 'POST', body, headers: { ...headers, ...json } }),
  };
}

/** The `fetch` graphql-tools' HTTP executor takes. */
export type UpstreamFetch = (url: string, init?: RequestInit) => Promise<Response>;

/** A usable answer: its text as it came (the executor parses it itself; the passthrough may relay it) and parsed. */
export interface UpstreamAnswer {
  text: string;
  result: UpstreamResult;
}
