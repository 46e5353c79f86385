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

/** Reads a body up to `limit` bytes; null when it is longer (the rest is not read). */
async function readBounded(response: Response, limit: number): Promise<string | null> {
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > limit) {
    await response.body?.cancel().catch(() => {});
    return null;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const isGraphQLResult = (value: unknown): boolean =>
  !!value && typeof value === 'object' && !Array.isArray(value) && ('data' in value || 'errors' in value);

/**
 * The `fetch` every request to one upstream goes through: Node's own fetch
 * (undici, which keeps connections alive and reuses them), a deadline of
 * `timeoutMs` for the whole exchange, redirects not followed, and the body
 * read up to `maxResponseBytes`. Whatever goes wrong (no answer in time, a
 * 5xx, a body that is not a GraphQL result, one that is too large) becomes
 * a GraphQL result carrying `UPSTREAM_UNAVAILABLE`, so the executor and the
 * delegation only ever see GraphQL.
 */
export function upstreamFetch(upstream: UpstreamConfig, logger: Logger) {
  const answer = (body: string) => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  const fault = (fault: Fault, detail?: unknown) => {
    logger.warn({ upstream: upstream.name, fault, err: detail instanceof Error ? detail : undefined }, 'upstream unavailable');
    return answer(unavailableBody(upstream.name));
  };
  return async (url: string, init: RequestInit = {}): Promise<Response> => {
    const deadline = AbortSignal.timeout(upstream.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    try {
      const response = await fetch(url, { ...init, signal, redirect: 'manual' });
      if (response.status >= 500 || (response.status >= 300 && response.status < 400)) {
        await response.body?.cancel().catch(() => {});
        return fault('server error');
      }
      const text = await readBounded(response, upstream.maxResponseBytes);
      if (text === null) return fault('too large');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return fault('not GraphQL');
      }
      if (!isGraphQLResult(parsed)) return fault('not GraphQL');
      return answer(text);
    } catch (error) {
      return fault(deadline.aborted ? 'timeout' : 'unreachable', error);
    }
  };
}
