import type { Plugin } from 'graphql-yoga';
import type { Deps } from '../deps.js';
import { authenticateKey, authenticateSession, readCredential } from '../modules/auth/authenticate.js';
import type { Principal } from '../modules/auth/principal.js';
import { codedError } from '../shared/error-funnel.js';
import { ErrorCode, KeygateError, rateLimited, unauthenticated } from '../shared/errors.js';
import { headerLinesOf } from './header-lines.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import { requestIdOf } from './request-id.js';

const principals = new WeakMap<Request, Principal>();

/** The principal the gatekeeper authenticated for this request. */
export function principalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

export interface GatekeeperOptions {
  maxBodyBytes: number;
  limiter: RateLimiter;
  metrics: Metrics;
}

/** What Yoga parses for POST (GraphQL over HTTP, plus multipart and form posts). */
const ACCEPTED_CONTENT_TYPES = new Set([
  'application/json',
  'application/graphql-response+json',
  'application/graphql+json',
  'application/graphql',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

const tooLarge = (limit: number) =>
  new KeygateError(ErrorCode.BAD_USER_INPUT, `Request body is over the limit of ${limit} bytes.`, { http: { status: 413 } });

/**
 * A body sent without Content-Length (chunked): read it up to the limit and
 * refuse it past that. With Content-Length, Node's HTTP parser already bounds
 * the body by the declared length, which `onRequest` checked, so the common
 * case pays for no extra stream (Yoga's own limiter, which pipes every body
 * through a TransformStream, is switched off in yoga.ts).
 */
async function boundedBody(request: Request, limit: number): Promise<Blob> {
  const reader = request.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > limit) {
      void discardRest(reader, DISCARD_FACTOR * limit);
      throw tooLarge(limit);
    }
    chunks.push(read.value);
  }
  return new Blob(chunks as BlobPart[]);
}

/** How much more of a refused body is read (and dropped) so the connection stays usable. */
const DISCARD_FACTOR = 16;

/**
 * Reads and drops the rest of a refused body in the background, so the 413 is
 * answered at once and a keep-alive connection can carry the next request.
 * Past `budget` bytes the stream is cancelled, which closes the connection.
 */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number): Promise<void> {
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      budget -= read.value.byteLength;
      if (budget < 0) return void (await reader.cancel());
    }
  } catch {
    // The client went away: nothing left to drop.
  }
}

/** The caller's address as the socket saw it (no proxy headers are trusted). */
function clientAddress(serverContext: unknown): string {
  const req = (serverContext as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req;
  return req?.socket?.remoteAddress ?? 'unknown';
}

/**
 * The front door, before any parsing or validation: body size, brute-force
 * refusal per client address, authentication (API key or session, once per
 * request) and the per-key rate limit. Anonymous callers never reach the
 * schema, so they see no field suggestions and no introspection. It runs
 * when Yoga starts on a GraphQL request (other routes never get here) and
 * before the body is read. Its refusals are coded errors thrown out of
 * `onRequestParse`: Yoga answers them like its own, so the response has the
 * media type Yoga negotiates for the Accept header (GraphQL over HTTP:
 * `application/graphql-response+json` when asked for), the usual body shape,
 * and the status and headers of `extensions.http`.
 */
export function useGatekeeper(deps: Deps, options: GatekeeperOptions): Plugin {
  const { limiter, metrics } = options;
  return {
    async onRequestParse({ request, serverContext, requestParser, setRequestParser }) {
      if (request.method === 'POST') {
        const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (!ACCEPTED_CONTENT_TYPES.has(type)) {
          throw new KeygateError(
            ErrorCode.BAD_USER_INPUT,
            `Content-Type must be application/json (got ${JSON.stringify(type.slice(0, 100) || 'none')}).`,
            { http: { status: 415 } },
          );
        }
      }
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > options.maxBodyBytes) {
        const message = `Request body is ${length} bytes; the limit is ${options.maxBodyBytes}.`;
        throw new KeygateError(ErrorCode.BAD_USER_INPUT, message, { http: { status: 413 } });
      }
      const address = clientAddress(serverContext);
      const blockedFor = await limiter.blockedAddress(address);
      if (blockedFor !== null) {
        metrics.rateLimited.inc({ limit: 'failed_auth_address' });
        throw rateLimited('Too many failed authentication attempts from this address.', blockedFor);
      }

      const credential = readCredential(headerLinesOf(request, serverContext));
      let principal: Principal | null = null;
      try {
        if (credential && credential !== 'invalid') {
          principal =
            credential.kind === 'api_key'
              ? await authenticateKey(deps, credential.value)
              : await authenticateSession(deps, credential.value);
        }
      } catch (error) {
        // A database or identity provider that cannot answer is 503 with Retry-After, not 401.
        throw codedError(error, { stage: 'request', requestId: requestIdOf(request), logger: deps.logger });
      }
      if (!principal) {
        metrics.authenticationFailures.inc({ reason: credential === null ? 'missing' : 'invalid' });
        if (credential !== null) await limiter.failedAuthentication(address);
        throw unauthenticated();
      }
      if (principal.kind === 'API_KEY') {
        const taken = await limiter.takeForKey(principal.key.id);
        if (!taken.ok) {
          metrics.rateLimited.inc({ limit: 'api_key' });
          throw rateLimited('Rate limit exceeded for this API key.', taken.retryAfterSeconds);
        }
      }
      principals.set(request, principal);

      // Headers first: reading `request.body` would build a stream for every request.
      if (!requestParser || request.headers.has('content-length') || request.method === 'GET' || !request.body) return;
      setRequestParser(async (req) =>
        requestParser(
          new Request(req.url, { method: req.method, headers: req.headers, body: await boundedBody(req, options.maxBodyBytes) }),
        ),
      );
    },
  };
}
