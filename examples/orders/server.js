// The orders service: an operator's own GraphQL API, run behind Keygate.
// Keygate authenticates the caller's API key, enforces the @requiresScopes
// of orders.graphql and sends only what the caller may see; this service
// checks Keygate's identity token on every request and keeps each
// environment's orders apart.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createGraphQLError, createYoga } from 'graphql-yoga';
import { IdentityError, KeysUnavailableError, keygateIdentity } from './identity.js';
import { OrderBook, OrderInputError } from './orders.js';

const port = Number(process.env.PORT ?? 4001);
const host = process.env.HOST ?? '127.0.0.1';
const sdlFile = process.env.ORDERS_SDL ?? new URL('./orders.graphql', import.meta.url);

const verify = keygateIdentity({
  keygateUrl: process.env.KEYGATE_URL ?? 'http://127.0.0.1:4000',
  issuer: process.env.KEYGATE_ISSUER ?? 'keygate',
  // The upstream's `name` in Keygate's upstreams file: tokens for other upstreams are not for us.
  audience: process.env.KEYGATE_AUDIENCE ?? 'orders',
});

const book = new OrderBook();

/** Resolvers see only the verified caller; every read and write is scoped to its environment. */
const resolvers = {
  Query: {
    orders: (_, { first }, { caller }) => book.list(caller, first),
    order: (_, { id }, { caller }) => book.find(caller, id),
    trackingStatus: (_, { orderId }, { caller }) => book.find(caller, orderId)?.shipment?.status ?? null,
    caller: (_, __, { caller }) => caller,
  },
  Mutation: {
    placeOrder: (_, { input }, { caller }) => {
      try {
        return book.place(caller, input);
      } catch (error) {
        if (error instanceof OrderInputError) throw createGraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT' } });
        throw error;
      }
    },
  },
  Order: {
    __resolveReference: (reference, { caller }) => book.find(caller, reference.id),
  },
};

/**
 * Keygate reads this SDL through `{ _service { sdl } }` when it starts and
 * reloads, before any caller exists, so that one query needs no token: it
 * tells no more than Keygate's own GET /schema.graphql. Everything else does.
 */
function asksOnlyForTheSdl(query) {
  try {
    const [operation, ...others] = parse(query ?? '').definitions;
    return (
      others.length === 0 &&
      operation.kind === 'OperationDefinition' &&
      operation.operation === 'query' &&
      operation.selectionSet.selections.every((s) => s.kind === 'Field' && s.name.value === '_service')
    );
  } catch {
    return false;
  }
}

const callers = new WeakMap();
const refusal = (message, status, code) =>
  createGraphQLError(message, {
    extensions: { code, http: { status, headers: status === 401 ? { 'www-authenticate': 'Bearer' } : {} } },
  });

/** Verifies the identity token before Yoga parses and validates the document: without one, nothing is answered, not even validation errors. */
const identityCheck = {
  async onParams({ request, params, setResult }) {
    const authorization = request.headers.get('authorization');
    const log = { at: new Date().toISOString(), operationName: params.operationName ?? null, query: params.query };
    if (!authorization && asksOnlyForTheSdl(params.query)) return console.log(JSON.stringify({ ...log, caller: null }));
    try {
      const caller = await verify(authorization);
      callers.set(request, caller);
      console.log(JSON.stringify({ ...log, environment: caller.environment, subject: caller.subject }));
    } catch (error) {
      if (!(error instanceof IdentityError || error instanceof KeysUnavailableError)) throw error;
      console.log(JSON.stringify({ ...log, refused: error.message }));
      const status = error instanceof IdentityError ? 401 : 503;
      setResult({ errors: [refusal(error.message, status, status === 401 ? 'UNAUTHENTICATED' : 'SERVICE_UNAVAILABLE')] });
    }
  },
};

const yoga = createYoga({
  schema: buildSubgraphSchema({ typeDefs: parse(readFileSync(sdlFile, 'utf8')), resolvers }),
  context: ({ request }) => ({ caller: callers.get(request) }),
  plugins: [identityCheck],
  graphiql: false,
  landingPage: false,
});

const server = createServer(yoga);
server.listen(port, host, () => {
  const { port: bound } = server.address();
  console.log(`Orders service on http://${host}:${bound}/graphql`);
});
for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () => {
    server.close(() => process.exit(0));
    // Keygate keeps its connections open for the next request: close the idle ones now.
    server.closeIdleConnections();
  });
