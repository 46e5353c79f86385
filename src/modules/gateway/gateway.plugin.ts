import { printSchemaWithDirectives } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Deps } from '../../deps.js';
import { headerLinesOf } from '../../plugins/header-lines.js';
import type { OnRequestPayload } from '../../plugins/request-hook.js';
import { ErrorCode, UNAUTHENTICATED_MESSAGE } from '../../shared/errors.js';
import { authenticateKey, authenticateSession, readCredential } from '../auth/authenticate.js';

export const JWKS_PATH = '/.well-known/jwks.json';
export const SCHEMA_PATH = '/schema.graphql';

const printed = new WeakMap<GraphQLSchema, string>();

/** The served SDL with every applied directive, printed once per schema (it changes only on reload). */
export function printServedSchema(schema: GraphQLSchema): string {
  let text = printed.get(schema);
  if (text === undefined) {
    text = `${printSchemaWithDirectives(schema)}\n`;
    printed.set(schema, text);
  }
  return text;
}

const refusal = (status: number, code: ErrorCode, message: string) =>
  new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  });

/**
 * The gateway's own endpoints (SPEC §9): the identity tokens' public keys at
 * `/.well-known/jwks.json` (public, as a JWKS is), and the merged SDL at
 * `/schema.graphql` with every `@requiresScopes`, for any authenticated
 * caller but the publishable key (which may not read the schema at all).
 */
export function useGatewayEndpoints(deps: Deps): Plugin {
  const serve = async ({ request, url, serverContext, endResponse }: OnRequestPayload) => {
    if (url.pathname === JWKS_PATH) {
      const jwks = (await deps.gateway.identity?.jwks()) ?? { keys: [] };
      return endResponse(
        new Response(JSON.stringify(jwks), {
          status: 200,
          // Short: a new key must reach verifiers quickly; they refetch on an unknown kid anyway.
          headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=30' },
        }),
      );
    }
    const credential = readCredential(headerLinesOf(request, serverContext));
    const principal =
      credential && credential !== 'invalid'
        ? credential.kind === 'api_key'
          ? await authenticateKey(deps, credential.value)
          : await authenticateSession(deps, credential.value)
        : null;
    if (!principal) return endResponse(refusal(401, ErrorCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE));
    if (principal.kind === 'API_KEY' && principal.key.type === 'PUBLISHABLE')
      return endResponse(refusal(403, ErrorCode.FORBIDDEN, 'The publishable key may not read the schema.'));
    return endResponse(
      new Response(printServedSchema(deps.gateway.schema), {
        status: 200,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
      }),
    );
  };
  return {
    // Synchronous on every other request (request-hook.ts).
    onRequest(payload) {
      const { request, url } = payload;
      if (request.method !== 'GET' || (url.pathname !== JWKS_PATH && url.pathname !== SCHEMA_PATH)) return;
      return serve(payload);
    },
  };
}
