import type { Plugin } from 'graphql-yoga';

/**
 * What Yoga hands an `onRequest` hook. The plugins that serve routes of
 * their own (GraphiQL, the console, the gateway's and operations'
 * endpoints) check the path synchronously and hand only their own requests
 * to an async `serve`: an async hook would make every request's hook chain
 * wait on a promise.
 */
export type OnRequestPayload = Parameters<NonNullable<Plugin['onRequest']>>[0];
