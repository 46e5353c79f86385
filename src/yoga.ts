import { GraphQLError } from 'graphql';
import { createYoga, type YogaLogger, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { createLoaders, type RequestContext } from './context.js';
import { isDatabaseUnavailable } from './database/errors.js';
import type { Deps } from './deps.js';
import { useActivityLog } from './modules/activity/activity.plugin.js';
import { authenticateKey, authenticateSession, readCredential } from './modules/auth/authenticate.js';
import type { Principal } from './modules/auth/principal.js';
import { customerTokenOf } from './modules/client-security/client-security.service.js';
import { useErrorPolicy } from './plugins/error-policy.js';
import { requestIdOf, useRequestId } from './plugins/request-id.js';
import { schema } from './schema.js';
import { ErrorCode, KeygateError, unauthenticated } from './shared/errors.js';

export type KeygateYoga = YogaServerInstance<Record<string, never>, RequestContext>;

/** Authenticates the request once: API key or user session; anything else is a 401. */
async function authenticate(deps: Deps, headers: Headers): Promise<Principal> {
  const credential = readCredential(headers);
  if (credential === null || credential === 'invalid') throw unauthenticated();
  const principal =
    credential.kind === 'api_key'
      ? await authenticateKey(deps, credential.value)
      : await authenticateSession(deps, credential.value);
  if (!principal) throw unauthenticated();
  return principal;
}

/** Yoga's own log lines through pino; expected (coded) errors are not errors of the server. */
function yogaLogger(logger: Logger): YogaLogger {
  const expected = (args: unknown[]) =>
    args.some(
      (a) => a instanceof GraphQLError && typeof a.extensions.code === 'string' && a.extensions.code !== ErrorCode.INTERNAL,
    );
  return {
    debug: (...args) => logger.debug({ args }, 'yoga'),
    info: (...args) => logger.info({ args }, 'yoga'),
    warn: (...args) => logger.warn({ args }, 'yoga'),
    error: (...args) => (expected(args) ? logger.debug({ args }, 'yoga') : logger.error({ args }, 'yoga')),
  };
}

/** The GraphQL-over-HTTP handler: schema, per-request context, and plugins. */
export function createKeygateYoga(deps: Deps, options: { activityLog: boolean } = { activityLog: true }): KeygateYoga {
  return createYoga<Record<string, never>, RequestContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: { title: 'Keygate GraphiQL', headers: JSON.stringify({ 'X-API-Key': '<your key>' }) },
    logging: yogaLogger(deps.logger),
    maskedErrors: {
      // Execution errors were classified by useErrorPolicy; this catches the rest (e.g. context building).
      maskError: (error) => {
        if (error instanceof GraphQLError) {
          const original = error.originalError;
          if (!original || original instanceof GraphQLError) return error;
        }
        if (isDatabaseUnavailable(error)) {
          deps.logger.warn({ err: error }, 'database unavailable');
          return new KeygateError(ErrorCode.INTERNAL, 'Service temporarily unavailable.', {
            http: { status: 503, headers: { 'retry-after': '1' } },
          });
        }
        deps.logger.error({ err: error }, 'unexpected error outside execution');
        return new KeygateError(ErrorCode.INTERNAL, 'Internal error.');
      },
    },
    context: async ({ request }) => ({
      requestId: requestIdOf(request),
      principal: await authenticate(deps, request.headers),
      customerToken: customerTokenOf(request.headers),
      deps,
      db: deps.db,
      clock: deps.clock,
      loaders: createLoaders(deps.db),
    }),
    plugins: [
      useRequestId(),
      useErrorPolicy(deps.logger),
      ...(options.activityLog ? [useActivityLog(deps.activity)] : []),
    ],
  });
}
