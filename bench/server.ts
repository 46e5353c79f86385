/**
 * One benchmark target per process: `ceiling` (graphql-js over node:http with
 * a cached parsed document), `yoga` (bare graphql-yoga, default options), or
 * `keygate` (seeded: 1,000 customers with subscriptions, 10,000 scoped keys).
 * Prints one JSON line when listening; `/__bench/stats` reports SQL
 * statements and peak RSS since `/__bench/reset`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSchema, execute, parse } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';

const mode = process.argv[2];
let peakRss = process.memoryUsage().rss;
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50).unref();
let statements = () => 0;
let statementsAtReset = 0;

// CPU profile of the measured load only (not start-up or seeding): /__bench/profile/start, then /stop.
const inspector = new Session();
inspector.connect();

function stats(req: IncomingMessage, res: ServerResponse): boolean {
  if (!req.url?.startsWith('/__bench/')) return false;
  if (req.url.startsWith('/__bench/profile/')) {
    const stop = req.url.endsWith('/stop');
    const steps = stop
      ? inspector.post('Profiler.stop').then((r) => JSON.stringify(r.profile))
      : inspector
          .post('Profiler.enable')
          .then(() => inspector.post('Profiler.start'))
          .then(() => '{}');
    void steps.then((body) => {
      res.setHeader('content-type', 'application/json');
      res.end(body);
    });
    return true;
  }
  if (req.url === '/__bench/reset') {
    statementsAtReset = statements();
    peakRss = process.memoryUsage().rss;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ statements: statements() - statementsAtReset, peakRss }));
  return true;
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, extra: Record<string, unknown> = {}) {
  const server = createServer((req, res) => {
    if (!stats(req, res)) handler(req, res);
  });
  server.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ port: (server.address() as AddressInfo).port, ...extra }));
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

const HELLO_SDL = 'type Query { hello: String! }';

if (mode === 'ceiling') {
  const schema = buildSchema(HELLO_SDL);
  const document = parse('{ hello }');
  const rootValue = { hello: () => 'world' };
  listen((req, res) => {
    req.resume();
    req.on('end', async () => {
      const result = await execute({ schema, document, rootValue });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(result));
    });
  });
} else if (mode === 'yoga') {
  const yoga = createYoga({
    schema: createSchema({ typeDefs: HELLO_SDL, resolvers: { Query: { hello: () => 'world' } } }),
    logging: false,
  });
  listen(yoga);
} else if (mode === 'keygate') {
  const { createKeygate } = await import('../src/app.js');
  const { parseHeapGrowthPercent, parseRateLimit } = await import('../src/config.js');
  const { tuneHeap } = await import('../src/shared/heap.js');
  // As `keygate serve` does.
  tuneHeap(parseHeapGrowthPercent(process.env));
  const { bootstrapAccount } = await import('../src/modules/account/account.service.js');
  const { issueKey } = await import('../src/modules/api-key/api-key.change.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-bench-'));
  const keygate = await createKeygate({
    config: {
      databaseUrl: `file:${dir}/keygate.db`,
      databasePoolSize: 1,
      masterKey: randomBytes(32),
      sessionSecret: randomBytes(32),
      logLevel: 'silent',
      // KEYGATE_RATE_LIMIT=0 (set by run.ts): the benchmark measures throughput, not the limiter.
      rateLimit: parseRateLimit(process.env),
    },
    activityLog: process.env.BENCH_ACTIVITY !== 'off',
  });
  statements = () => keygate.deps.database.stats.statements;
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
  // Measure the load, not the seeding: start from a collected heap (run.ts passes --expose-gc).
  globalThis.gc?.();
  listen(keygate.yoga, { scopedKey: keys[0], keys });
} else {
  throw new Error(`unknown mode ${mode}`);
}
