import { hash, timingSafeEqual } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { sql } from 'kysely';
import type { Deps } from '../deps.js';
import { ErrorCode } from '../shared/errors.js';
import type { Metrics } from './metrics.js';
import type { OnRequestPayload } from './request-hook.js';
import { requestIdOf } from './request-id.js';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });

const startedAt = new WeakMap<Request, number>();

/**
 * Operations endpoints: `/ready` (the database answers) and `/metrics`
 * (Prometheus text), and request latency. Liveness (`/health`) is Yoga's own.
 */
export function useOperations(
  deps: Deps,
  metrics: Metrics,
  { graphqlEndpoint, metricsToken }: { graphqlEndpoint: string; metricsToken: string | null },
): Plugin {
  const expected = metricsToken === null ? null : hash('sha256', `Bearer ${metricsToken}`, 'buffer');
  /** Constant-time comparison of digests, so the check leaks neither the token nor its length. */
  const mayReadMetrics = (request: Request) =>
    expected === null || timingSafeEqual(hash('sha256', request.headers.get('authorization') ?? '', 'buffer'), expected);
  // The access log's fields are fixed and never a secret (the request id is checked or made here): its lines skip
  // the redaction every other record goes through, which cost more than the rest of the line.
  const accessLog = deps.logger.child({}, { redact: { paths: [] } });
  // One histogram child per status code (a handful), so an observation hashes no labels.
  const durations = new Map<number, ReturnType<typeof metrics.requestDuration.labels>>();
  const durationOf = (status: number) => {
    let child = durations.get(status);
    if (!child) {
      child = metrics.requestDuration.labels({ status: String(status) });
      if (durations.size < 100) durations.set(status, child);
    }
    return child;
  };
  const serve = async ({ request, url, endResponse }: OnRequestPayload) => {
    if (url.pathname === '/ready') {
      try {
        await sql`select 1`.execute(deps.db);
        return endResponse(json(200, { status: 'ready', database: 'ok' }));
      } catch {
        return endResponse(json(503, { status: 'unavailable', database: 'unreachable' }));
      }
    }
    if (url.pathname === '/metrics') {
      if (!mayReadMetrics(request)) {
        const refusal = {
          errors: [
            {
              message: 'Send the metrics token: Authorization: Bearer <KEYGATE_METRICS_TOKEN>.',
              extensions: { code: ErrorCode.UNAUTHENTICATED },
            },
          ],
        };
        return endResponse(json(401, refusal, { 'www-authenticate': 'Bearer realm="metrics"' }));
      }
      return endResponse(
        new Response(await metrics.registry.metrics(), {
          status: 200,
          headers: { 'content-type': metrics.registry.contentType },
        }),
      );
    }
  };
  return {
    // Synchronous on every other request (request-hook.ts).
    onRequest(payload) {
      const { request, url } = payload;
      if (url.pathname === graphqlEndpoint) startedAt.set(request, performance.now());
      if (request.method !== 'GET' || (url.pathname !== '/ready' && url.pathname !== '/metrics')) return;
      return serve(payload);
    },
    onResponse({ request, response }) {
      const start = startedAt.get(request);
      if (start === undefined) return;
      const seconds = (performance.now() - start) / 1000;
      durationOf(response.status).observe(seconds);
      // The access log: never headers or bodies, so never a credential.
      accessLog.info(
        {
          requestId: requestIdOf(request),
          method: request.method,
          path: graphqlEndpoint,
          status: response.status,
          ms: Math.round(seconds * 1000),
        },
        'request',
      );
    },
  };
}
