import type { Plugin } from 'graphql-yoga';

/**
 * `Cache-Control: no-store` on every response of the GraphQL endpoint,
 * whoever built it (an answer, a validation error, a refusal before
 * execution, GraphiQL's page): answers can hold secrets (a new key, a
 * revealed one, a signing secret), and no cache between Keygate and the
 * caller may keep or replay them.
 */
export function useNoStore(graphqlEndpoint: string): Plugin {
  return {
    onResponse({ request, response }) {
      if (new URL(request.url).pathname === graphqlEndpoint) response.headers.set('cache-control', 'no-store');
    },
  };
}
