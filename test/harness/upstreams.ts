import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { type DocumentNode, parse } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll } from 'vitest';

/** What a test upstream received: every request's headers and GraphQL body. */
export interface Received {
  headers: IncomingHttpHeaders;
  query: string;
  variables: Record<string, unknown> | undefined;
}

export interface TestUpstream {
  name: string;
  url: string;
  received: Received[];
  /** TCP connections the upstream accepted (keep-alive reuse shows as few). */
  connections: () => number;
  close(): Promise<void>;
}

export type Resolvers = Record<string, Record<string, unknown>>;

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`)),
  );
}

function tracked(name: string, server: Server, url: string, received: Received[]): TestUpstream {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const upstream: TestUpstream = {
    name,
    url,
    received,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  afterAll(() => upstream.close());
  return upstream;
}

/** Reads a body as the upstream saw it, for `received`. */
function record(received: Received[], headers: IncomingHttpHeaders, body: unknown): void {
  const b = (body ?? {}) as { query?: string; variables?: Record<string, unknown> };
  received.push({ headers, query: b.query ?? '', variables: b.variables });
}

/**
 * A GraphQL Yoga upstream serving `sdl` (which carries `@requiresScopes`),
 * with the Federation `_service { sdl }` field Keygate reads it through.
 */
export async function startYogaUpstream(name: string, sdl: string | (() => string), resolvers: Resolvers): Promise<TestUpstream> {
  const received: Received[] = [];
  const sdlNow = typeof sdl === 'string' ? () => sdl : sdl;
  // A schema per SDL text: a test may change what the running upstream serves (reload tests).
  const schemas = new Map<string, ReturnType<typeof createSchema>>();
  const schemaFor = (text: string) => {
    let schema = schemas.get(text);
    if (!schema) {
      schema = createSchema({
        typeDefs: `${text}\nextend type Query { _service: _Service! }\ntype _Service { sdl: String }`,
        resolvers: { ...resolvers, Query: { ...resolvers.Query, _service: () => ({ sdl: text }) } },
        // One set of resolvers serves every SDL a test switches between.
        resolverValidationOptions: { requireResolversToMatchSchema: 'ignore' },
      });
      schemas.set(text, schema);
    }
    return schema;
  };
  const yoga = createYoga({
    logging: false,
    schema: () => schemaFor(sdlNow()),
    plugins: [
      {
        onParams({ params, request }) {
          received.push({
            headers: Object.fromEntries(request.headers.entries()),
            query: params.query ?? '',
            variables: params.variables as Record<string, unknown> | undefined,
          });
        },
      },
    ],
  });
  const server = createServer(yoga);
  return tracked(name, server, await listen(server), received);
}

/** An Apollo Server subgraph (`@apollo/subgraph`): a different stack from Keygate's, Federation SDL and all. */
export async function startApolloSubgraph(name: string, typeDefs: string, resolvers: Resolvers): Promise<TestUpstream> {
  const received: Received[] = [];
  const document: DocumentNode = parse(typeDefs);
  const apollo = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs: document, resolvers: resolvers as never }) });
  await apollo.start();
  // Apollo Server's own framework-neutral entry point, over plain node:http.
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    record(received, req.headers, body);
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(key, value);
    const answer = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'POST', headers, search: new URL(req.url ?? '/', 'http://x').search, body },
      context: async () => ({}),
    });
    res.statusCode = answer.status ?? 200;
    for (const [key, value] of answer.headers) res.setHeader(key, value);
    if (answer.body.kind === 'complete') res.end(answer.body.string);
    else {
      for await (const chunk of answer.body.asyncIterator) res.write(chunk);
      res.end();
    }
  });
  const upstream = tracked(name, server, await listen(server), received);
  afterAll(() => apollo.stop());
  return upstream;
}

/** A raw upstream whose every answer the test decides (faults: hangs, 500s, garbage, huge bodies). */
export async function startRawUpstream(
  name: string,
  answer: (req: { body: string; headers: IncomingHttpHeaders }, res: import('node:http').ServerResponse) => void,
): Promise<TestUpstream> {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      record(received, req.headers, JSON.parse(body));
    } catch {
      record(received, req.headers, {});
    }
    answer({ body, headers: req.headers }, res);
  });
  return tracked(name, server, await listen(server), received);
}

/** Writes a `KEYGATE_UPSTREAMS` file for these upstreams (extra settings per name) and returns its path. */
export function upstreamsFile(
  upstreams: readonly { name: string; url: string }[],
  settings: Record<string, Record<string, unknown>> = {},
): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-upstreams-'));
  const file = path.join(dir, 'upstreams.json');
  writeFileSync(
    file,
    JSON.stringify({
      upstreams: upstreams.map((u) => ({ name: u.name, url: u.url, schema: { federation: true }, ...settings[u.name] })),
    }),
  );
  return file;
}
