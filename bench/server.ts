/**
 * The benchmark's own processes, one mode each (`keygate serve` itself runs
 * from bin/keygate.js, not from here):
 *
 * - `ceiling`: graphql-js over node:http with a cached parsed document;
 * - `yoga`: bare graphql-yoga with its default options;
 * - `shop`: the gateway rows' upstream (bench/shop.ts), graphql-js over
 *   node:http with parsed and validated documents cached, so the gateways
 *   in front of it are what is measured; `GET /requests` says how many
 *   requests reached it;
 * - `hive`: Hive Gateway (`@graphql-hive/gateway-runtime` with its HTTP
 *   transport `@graphql-mesh/transport-http`) in proxy mode in front of
 *   `BENCH_UPSTREAM`, its default options (no auth); `BENCH_DEDUP=0` turns
 *   its in-flight deduplication off;
 * - `keygate-quiet`: Keygate started as `keygate serve` starts it (the same
 *   configuration from the same environment), with the activity log off:
 *   row 5b, to measure what the activity log costs;
 * - `seed`: fills `DATABASE_URL` for the Keygate rows (1,000 customers with
 *   subscriptions, 10,000 scoped keys), prints the keys as JSON and exits.
 *
 * Servers print one line when listening, as `keygate serve` does
 * ("… on http://host:port/graphql"), and stop on SIGTERM.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, type DocumentNode, execute, type GraphQLError, parse, validate } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { SHOP_ORDERS, SHOP_SDL } from './shop.js';

const mode = process.argv[2];

function listen(server: Server, name: string) {
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    console.log(`${name} on http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`);
  });
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

const HELLO_SDL = 'type Query { hello: String! }';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, body: unknown) {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

if (mode === 'ceiling') {
  const schema = buildSchema(HELLO_SDL);
  const document = parse('{ hello }');
  const rootValue = { hello: () => 'world' };
  listen(
    createServer((req, res) => {
      req.resume();
      req.on('end', async () => answer(res, await execute({ schema, document, rootValue })));
    }),
    'ceiling',
  );
} else if (mode === 'yoga') {
  const yoga = createYoga({
    schema: createSchema({ typeDefs: HELLO_SDL, resolvers: { Query: { hello: () => 'world' } } }),
  });
  listen(createServer(yoga), 'yoga');
} else if (mode === 'shop') {
  const schema = buildSchema(SHOP_SDL);
  const rootValue = { recentOrders: ({ first }: { first: number }) => SHOP_ORDERS.slice(0, first) };
  // Parsed and validated once per distinct document (a gateway sends the same few again and again); bounded.
  const documents = new Map<string, { document: DocumentNode } | { errors: readonly GraphQLError[] }>();
  const prepare = (query: string) => {
    let prepared = documents.get(query);
    if (!prepared) {
      try {
        const document = parse(query);
        const errors = validate(schema, document);
        prepared = errors.length ? { errors } : { document };
      } catch (error) {
        prepared = { errors: [error as GraphQLError] };
      }
      if (documents.size >= 100) documents.delete(documents.keys().next().value!);
      documents.set(query, prepared);
    }
    return prepared;
  };
  // The requests that reached it, for the benchmark's "upstream requests per call" (GET /requests).
  let served = 0;
  listen(
    createServer(async (req, res) => {
      if (req.method === 'GET' && req.url === '/requests') return answer(res, { requests: served });
      served++;
      const body = JSON.parse((await readBody(req)) || '{}') as {
        query?: string;
        variables?: Record<string, unknown>;
        operationName?: string;
      };
      const prepared = prepare(body.query ?? '');
      if ('errors' in prepared) return answer(res, { errors: prepared.errors });
      answer(
        res,
        await execute({
          schema,
          document: prepared.document,
          rootValue,
          variableValues: body.variables,
          operationName: body.operationName,
        }),
      );
    }),
    'shop',
  );
} else if (mode === 'hive') {
  const { createGatewayRuntime } = await import('@graphql-hive/gateway-runtime');
  const gateway = createGatewayRuntime({
    // BENCH_DEDUP=0: every request goes upstream (its in-flight deduplication, on by default, off).
    proxy: {
      endpoint: process.env.BENCH_UPSTREAM!,
      ...(process.env.BENCH_DEDUP === '0' ? { deduplicateInflightRequests: false } : {}),
    },
    // The runtime loads its HTTP transport by package name; given here as Hive's docs show (`transports`),
    // so it is found wherever node_modules puts it.
    transports: { http: import('@graphql-mesh/transport-http') },
  });
  listen(createServer(gateway), 'hive');
} else if (mode === 'keygate-quiet') {
  // As src/cli.ts `serve` does, but for the activity log.
  const { createKeygate } = await import('../src/app.js');
  const { loadConfig } = await import('../src/config.js');
  const { startServer } = await import('../src/server.js');
  const { tuneHeap } = await import('../src/shared/heap.js');
  const config = loadConfig(process.env);
  tuneHeap(config.heapGrowthPercent);
  const keygate = await createKeygate({ config, activityLog: false });
  const running = await startServer(keygate, { port: config.port, host: config.host });
  console.log(`Keygate (activity log off) on ${running.url}/graphql`);
  process.on('SIGTERM', () => void running.stop().then(() => process.exit(0)));
} else if (mode === 'seed') {
  const { createKeygate } = await import('../src/app.js');
  const { loadConfig } = await import('../src/config.js');
  const { bootstrapAccount } = await import('../src/modules/account/account.service.js');
  const { issueKey } = await import('../src/modules/api-key/api-key.change.js');
  const keygate = await createKeygate({ config: { ...loadConfig(process.env), logLevel: 'silent' } });
  const tenant = await bootstrapAccount(keygate.deps, { name: 'Bench', plan: 'SCALE', ownerEmail: 'bench@keygate.test' });
  const env = tenant.environments[0]!;
  const system = { type: 'SYSTEM' as const, id: null, displayName: 'System' };
  const now = new Date();
  const { db } = keygate.deps;
  // 1,000 customers, half with two subscriptions.
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < 1000; i++) {
      const id = `cus_${String(i).padStart(26, '0')}`;
      await trx
        .insertInto('customers')
        .values({
          id,
          account_id: env.env.account_id,
          environment_id: env.env.id,
          customer_id: `c${i}`,
          name: `Customer ${i}`,
          email: `c${i}@example.test`,
          metadata: null,
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
        })
        .execute();
      if (i % 2 === 0) {
        for (const plan of ['pro', 'addon']) {
          await trx
            .insertInto('subscriptions')
            .values({
              id: `sub_${plan === 'pro' ? 'P' : 'A'}${String(i).padStart(25, '0')}`,
              account_id: env.env.account_id,
              environment_id: env.env.id,
              customer_ref: id,
              plan_id: plan,
              status: 'ACTIVE',
              created_at: now.toISOString(),
              canceled_at: null,
            })
            .execute();
        }
      }
    }
  });
  // 10,000 scoped keys; requests in row 6 spread over the first 1,000.
  const keys: string[] = [];
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < 10_000; i++) {
      const issued = await issueKey(trx, keygate.deps, {
        accountId: env.env.account_id,
        environmentId: env.env.id,
        type: 'SCOPED',
        name: `bench ${i}`,
        description: null,
        scopes: ['customers:read', 'customers:write', 'subscriptions:read'],
        actor: system,
        now,
      });
      if (i < 1000) keys.push(issued.secret);
    }
  });
  await keygate.close();
  console.log(JSON.stringify({ keys }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
