import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaLogger, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { OperationLimits } from './config.js';
import { useConsole } from './console/console.plugin.js';
import { Loaders, type RequestContext } from './context.js';
import type { Deps } from './deps.js';
import { useActivityLog } from './modules/activity/activity.plugin.js';
import type { Principal } from './modules/auth/principal.js';
import { customerTokenOf } from './modules/client-security/client-security.service.js';
import { useGatewayEndpoints } from './modules/gateway/gateway.plugin.js';
import { useUpstreamPassthrough } from './modules/gateway/upstream.passthrough.js';
import { asValidationErrors } from './plugins/armor.js';
import { useErrorPolicy } from './plugins/error-policy.js';
import { useFieldSuggestionsHiddenFor } from './plugins/field-suggestions.js';
import { principalOf, useGatekeeper } from './plugins/gatekeeper.js';
import { useGraphiQL } from './plugins/graphiql.js';
import { headerLinesOf } from './plugins/header-lines.js';
import { createMetrics } from './plugins/metrics.js';
import { useNoStore } from './plugins/no-store.js';
import { useOperations } from './plugins/operations.js';
import type { RateLimiter } from './plugins/rate-limit.js';
import { requestIdOf, useRequestId } from './plugins/request-id.js';
import { useVariableCostLimit } from './plugins/variable-cost.js';
import { codedError } from './shared/error-funnel.js';
import { ErrorCode, unauthenticated } from './shared/errors.js';

export type KeygateYoga = YogaServerInstance<Record<string, never>, RequestContext>;

/** The principal the gatekeeper authenticated; a request without one never reaches execution. */
function authenticated(request: Request): Principal {
  const principal = principalOf(request);
  if (!principal) throw unauthenticated();
  return principal;
}

/** Callers who may not read the schema: no introspection, no field suggestions (SPEC §5, §9). */
function schemaHidden(request: Request): boolean {
  const principal = principalOf(request);
  return !principal || (principal.kind === 'API_KEY' && principal.key.type === 'PUBLISHABLE');
}

const describe = (args: unknown[]) => args.filter((a) => typeof a === 'string').join(' ');

/** Yoga's own log lines through pino; expected (coded) errors are not errors of the server. */
function yogaLogger(logger: Logger): YogaLogger {
  const expected = (args: unknown[]) =>
    args.some(
      (a) => a instanceof GraphQLError && typeof a.extensions.code === 'string' && a.extensions.code !== ErrorCode.INTERNAL,
    );
  return {
    // Only Yoga's own words: its arguments can hold request parameters and headers.
    // Yoga calls debug several times per request: skip the work unless debug is on.
    debug: (...args) => logger.isLevelEnabled('debug') && logger.debug({ yoga: describe(args) }, 'yoga'),
    info: (...args) => logger.info({ yoga: describe(args) }, 'yoga'),
    warn: (...args) => logger.warn({ yoga: describe(args) }, 'yoga'),
    error: (...args) =>
      expected(args)
        ? logger.debug({ yoga: describe(args) }, 'yoga')
        : logger.error({ err: args.find((a) => a instanceof Error), yoga: describe(args) }, 'yoga'),
  };
}

/** The GraphQL-over-HTTP handler: schema, per-request context, and plugins. */
export interface KeygateYogaOptions {
  activityLog: boolean;
  limits: OperationLimits;
  rateLimiter: RateLimiter;
  /** Bearer token `/metrics` requires; null leaves it open (keep it off public networks then). */
  metricsToken: string | null;
}

const GRAPHQL_ENDPOINT = '/graphql';

export function createKeygateYoga(deps: Deps, options: KeygateYogaOptions): KeygateYoga {
  const metrics = createMetrics(deps.activity, deps.database, deps.keyCache);
  const { limits } = options;
  return createYoga<Record<string, never>, RequestContext>({
    // The gateway's current schema: Keygate's own, plus its upstreams' after each reload. Without upstreams
    // it never changes: given as it is, Yoga looks nothing up per request.
    schema: deps.gateway.reloads ? () => deps.gateway.schema : deps.gateway.schema,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    landingPage: false,
    // The gatekeeper bounds bodies itself (Content-Length up front, chunked while reading).
    maxRequestBodySize: false,
    // useGraphiQL serves it: a small page with a CSP, its assets compressed and cacheable.
    graphiql: false,
    logging: yogaLogger(deps.logger),
    maskedErrors: {
      // Execution errors were coded by useErrorPolicy; this catches the rest (e.g. context building).
      maskError: (error) => codedError(error, { stage: 'caught', requestId: null, logger: deps.logger }),
    },
    // The initial context holds the server context too: the Node request's raw header lines.
    context: (initial) => ({
      request: initial.request,
      requestId: requestIdOf(initial.request),
      principal: authenticated(initial.request),
      customerToken: customerTokenOf(headerLinesOf(initial.request, initial)),
      deps,
      db: deps.db,
      reads: deps.reads.db,
      clock: deps.clock,
      loaders: new Loaders(deps.db),
      activityPlaces: new Map(),
    }),
    plugins: [
      useRequestId(),
      useGatewayEndpoints(deps),
      useNoStore(GRAPHQL_ENDPOINT),
      useOperations(deps, metrics, { graphqlEndpoint: GRAPHQL_ENDPOINT, metricsToken: options.metricsToken }),
      // Before the gatekeeper: the page is public (every query it sends is authenticated).
      useGraphiQL({ graphqlEndpoint: GRAPHQL_ENDPOINT, title: 'Keygate GraphiQL' }),
      useGatekeeper(deps, {
        maxBodyBytes: limits.maxBodyBytes,
        limiter: options.rateLimiter,
        metrics,
      }),
      // Only callers who passed the gatekeeper reach validation; the publishable key gets no
      // introspection, and no field suggestions that would rebuild it.
      useDisableIntrospection({ isDisabled: schemaHidden }),
      useFieldSuggestionsHiddenFor(schemaHidden),
      EnvelopArmorPlugin({
        maxDepth: { n: limits.maxDepth, ...asValidationErrors },
        maxAliases: { n: limits.maxAliases, ...asValidationErrors },
        maxDirectives: { n: limits.maxDirectives, ...asValidationErrors },
        maxTokens: { n: limits.maxTokens },
        costLimit: { maxCost: limits.maxCost, ...asValidationErrors },
        // Armor's would hide suggestions from everyone: useFieldSuggestionsHiddenFor hides them per caller.
        blockFieldSuggestion: { enabled: false },
      }),
      useErrorPolicy(deps.logger),
      ...(options.activityLog ? [useActivityLog(deps.activity, deps.clock, metrics)] : []),
      // After the error policy and the activity log: a refusal here still reaches both.
      useVariableCostLimit(limits.maxCost),
      // Operations one upstream can answer whole go to it as they are (enforcement found nothing to remove).
      useUpstreamPassthrough(() => deps.gateway.state),
      useConsole(),
    ],
  });
}
