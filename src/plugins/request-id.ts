import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';

const ids = new WeakMap<Request, string>();
const INCOMING = /^[A-Za-z0-9._-]{8,128}$/;

/** The id of a request: the caller's `X-Request-Id` when it is sane, otherwise a fresh UUID. */
export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (!id) {
    const incoming = request.headers.get('x-request-id');
    id = incoming && INCOMING.test(incoming) ? incoming : randomUUID();
    ids.set(request, id);
  }
  return id;
}

/** Echoes the request id in the `X-Request-Id` response header of every response. */
export function useRequestId(): Plugin {
  return {
    onResponse({ request, response }) {
      response.headers.set('x-request-id', requestIdOf(request));
    },
  };
}
