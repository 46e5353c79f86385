import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createKeygate, type Keygate } from './app.js';
import { createCustomerToken } from './client/customer-token.js';
import { type Config, loadConfig } from './config.js';
import { migrateToLatest } from './database/migrator.js';
import { findUserByEmail, hasAnyAccount } from './modules/account/account.repository.js';
import {
  addUserToAccount,
  type BootstrapResult,
  bootstrapAccount,
  parsePlan,
  parseRole,
} from './modules/account/account.service.js';
import { findEnvironmentsByIds } from './modules/environment/environment.repository.js';
import { checkUpstreams } from './modules/gateway/gateway.js';
import { startServer } from './server.js';
import { parseDuration } from './shared/duration.js';
import { tuneHeap } from './shared/heap.js';
import { packageRoot } from './shared/package-root.js';

const USAGE = `Usage: keygate <command> [options]

Commands:
  serve [--demo]                 Migrate and serve POST /graphql (GraphiQL on GET) on $PORT (4000).
                                 --demo bootstraps a demo account on an empty database.
  migrate                        Apply pending database migrations.
  bootstrap --account NAME --plan FREE|GROWTH|SCALE --owner EMAIL [--json]
                                 Create an account with Development and Production environments.
  user add --account ID --email EMAIL --role OWNER|MEMBER|READ_ONLY [--json]
                                 Add a user to an account (or change their role).
  token --email EMAIL [--ttl DURATION]
                                 Mint a session token (default ttl 24h; e.g. 30m, 12h, 7d).
  version                        Print the version, and whether the compiled build (dist/, what
                                 bin/keygate.js runs) or the TypeScript source (npm run dev) runs.
  sign-customer-token --environment ID --customer ID [--expires-in DURATION]
                                 Sign an X-Customer-Token with the environment's signing secret
                                 (platform form without --expires-in; expiring form with it).
  upstream check [--file PATH]   Load the upstreams file ($KEYGATE_UPSTREAMS), fetch every SDL, print
                                 the scopes each upstream adds and any collision; exit 1 on problems.

Environment: DATABASE_URL, PORT, HOST, KEYGATE_MASTER_KEY, KEYGATE_SESSION_SECRET,
KEYGATE_DATA_DIR, KEYGATE_UPSTREAMS, KEYGATE_IDENTITY_KEY, LOG_LEVEL (see README).`;

const DEFAULT_TOKEN_TTL = 24 * 3600;

function versionLine(): string {
  const { version } = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  // The bundle is dist/keygate.mjs; the source is src/cli.ts.
  const build = import.meta.url.endsWith('.mjs') ? 'compiled' : 'source';
  return `keygate ${version} (${build})`;
}

class UsageError extends Error {}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required.`);
  return value;
}

/** Keygate for one command; logs go to stderr so stdout carries only the command's output. */
async function open(config: Config): Promise<Keygate> {
  // Commands other than serve manage accounts and keys: they need no upstream.
  // Nor do they deliver webhooks: that is the serving instances' work, and a command ends before an attempt would.
  const keygate = await createKeygate({
    config: { ...config, upstreamsFile: null },
    logDestination: pino.destination(2),
    webhookDelivery: { enabled: false },
  });
  for (const notice of config.notices) keygate.deps.logger.warn(notice);
  return keygate;
}

function bootstrapJson(result: BootstrapResult, token: string) {
  return {
    account: result.account,
    owner: { id: result.owner.id, email: result.owner.email, token },
    environments: result.environments.map((e) => ({
      id: e.env.id,
      name: e.env.name,
      slug: e.env.slug,
      fullAccessKey: { id: e.fullAccess.row.id, secret: e.fullAccess.secret },
      publishableKey: { id: e.publishable.row.id, secret: e.publishable.secret },
    })),
  };
}

function printBootstrap(json: ReturnType<typeof bootstrapJson>): void {
  console.log(`Account ${json.account.name} (${json.account.id}), plan ${json.account.plan}`);
  console.log(`Owner ${json.owner.email} (${json.owner.id})`);
  for (const env of json.environments) {
    console.log(`\n${env.name} (${env.id})`);
    console.log(`  Full access key:  ${env.fullAccessKey.secret}`);
    console.log(`  Publishable key:  ${env.publishableKey.secret}`);
  }
  console.log(`\nOwner session token (24h):\n  ${json.owner.token}`);
}

async function serve(config: Config, demo: boolean): Promise<void> {
  tuneHeap(config.heapGrowthPercent);
  const keygate = await createKeygate({ config });
  for (const notice of config.notices) keygate.deps.logger.warn(notice);
  if (demo) {
    if (!(await hasAnyAccount(keygate.deps.db))) {
      const result = await bootstrapAccount(keygate.deps, { name: 'Demo', plan: 'SCALE', ownerEmail: 'demo@keygate.dev' });
      const token = await keygate.deps.sessions.mint(result.owner.id, DEFAULT_TOKEN_TTL);
      console.log('Bootstrapped a demo account on the empty database:\n');
      printBootstrap(bootstrapJson(result, token));
      console.log('\nKeep these: secrets are shown once (owners can reveal them again later).');
    } else {
      console.log('Database already has accounts; mint a session token with: npx keygate token --email demo@keygate.dev');
    }
  }
  const running = await startServer(keygate, { port: config.port, host: config.host });
  console.log(`\nKeygate on ${running.url}/graphql (GraphiQL: open it in a browser; send X-API-Key or Authorization: Bearer)`);
  console.log(`Console on ${running.url}/console (sign in with a session token: npx keygate token --email …)`);
  let signals = 0;
  const shutdown = (signal: string) => {
    if (signals++ > 0) process.exit(1);
    keygate.deps.logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      (err) => {
        keygate.deps.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Upstreams' SDL anew without a restart; a failed reload keeps the last good schema (and says so in the log).
  process.on('SIGHUP', () => void keygate.deps.gateway.reload('SIGHUP'));
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      demo: { type: 'boolean' },
      json: { type: 'boolean' },
      account: { type: 'string' },
      plan: { type: 'string' },
      owner: { type: 'string' },
      email: { type: 'string' },
      role: { type: 'string' },
      ttl: { type: 'string' },
      environment: { type: 'string' },
      customer: { type: 'string' },
      'expires-in': { type: 'string' },
      file: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (!command || values.help || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return;
  }
  if (command === 'version' || command === '--version') {
    console.log(versionLine());
    return;
  }
  if (command === 'upstream') return upstreamCommand(positionals, values.file);
  const config = loadConfig();

  switch (command) {
    case 'serve':
      return serve(config, values.demo ?? false);
    case 'migrate': {
      const keygate = await createKeygate({
        config,
        migrate: false,
        logDestination: pino.destination(2),
        webhookDelivery: { enabled: false },
      });
      for (const notice of config.notices) keygate.deps.logger.warn(notice);
      const applied = await migrateToLatest(keygate.deps.db);
      console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
      return keygate.close();
    }
    case 'bootstrap': {
      const plan = parsePlan(required(values, 'plan'));
      const keygate = await open(config);
      try {
        const result = await bootstrapAccount(keygate.deps, {
          name: required(values, 'account'),
          plan,
          ownerEmail: required(values, 'owner'),
        });
        const json = bootstrapJson(result, await keygate.deps.sessions.mint(result.owner.id, DEFAULT_TOKEN_TTL));
        if (values.json) console.log(JSON.stringify(json));
        else printBootstrap(json);
      } finally {
        await keygate.close();
      }
      return;
    }
    case 'user': {
      if (positionals[0] !== 'add')
        throw new UsageError('Usage: keygate user add --account ID --email EMAIL --role ROLE [--json]');
      const role = parseRole(required(values, 'role'));
      const keygate = await open(config);
      try {
        const { user } = await addUserToAccount(keygate.deps, {
          accountId: required(values, 'account'),
          email: required(values, 'email'),
          role,
        });
        const token = await keygate.deps.sessions.mint(user.id, DEFAULT_TOKEN_TTL);
        if (values.json) console.log(JSON.stringify({ id: user.id, email: user.email, role, token }));
        else console.log(`${user.email} (${user.id}) is ${role}.\nSession token (24h):\n  ${token}`);
      } finally {
        await keygate.close();
      }
      return;
    }
    case 'token': {
      const ttl = values.ttl ? parseDuration(values.ttl) : DEFAULT_TOKEN_TTL;
      const keygate = await open(config);
      try {
        const user = await findUserByEmail(keygate.deps.db, required(values, 'email').trim().toLowerCase());
        if (!user) throw new UsageError(`No user with email ${values.email}.`);
        console.log(await keygate.deps.sessions.mint(user.id, ttl));
      } finally {
        await keygate.close();
      }
      return;
    }
    case 'sign-customer-token': {
      const environmentId = required(values, 'environment');
      const customerId = required(values, 'customer');
      const expiresIn = values['expires-in'] ? parseDuration(values['expires-in']) : undefined;
      const keygate = await open(config);
      try {
        const [env] = await findEnvironmentsByIds(keygate.deps.db, [environmentId]);
        if (!env) throw new UsageError(`No environment with id ${environmentId}.`);
        const secret = keygate.deps.secretBox.open(env.signing_secret_encrypted, env.id);
        console.log(createCustomerToken(customerId, secret, { expiresIn, now: keygate.deps.clock.now() }));
      } finally {
        await keygate.close();
      }
      return;
    }
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

/** `keygate upstream check`: what a start would load, reported upstream by upstream; exit 1 on any problem. */
async function upstreamCommand(positionals: string[], fileOption: string | undefined): Promise<void> {
  if (positionals[0] !== 'check') throw new UsageError('Usage: keygate upstream check [--file PATH]');
  const file = fileOption ?? process.env.KEYGATE_UPSTREAMS;
  if (!file) throw new UsageError('Name the upstreams file: --file PATH or KEYGATE_UPSTREAMS.');
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const { schema } = await import('./schema.js');
  const report = await checkUpstreams(file, schema, logger);
  console.log(`Upstreams file ${report.file}`);
  for (const u of report.upstreams) {
    if (u.error) {
      console.log(`\n✗ ${u.name}: ${u.error}`);
      continue;
    }
    console.log(`\n✓ ${u.name}: ${u.rootFields.length} root field${u.rootFields.length === 1 ? '' : 's'}`);
    for (const scope of u.scopes) console.log(`    ${scope.name.padEnd(32)} ${scope.access.padEnd(5)} ${scope.description}`);
  }
  if (report.collision) console.log(`\n✗ collision: ${report.collision}`);
  const problems = report.upstreams.filter((u) => u.error).length + (report.collision ? 1 : 0);
  console.log(problems ? `\n${problems} problem${problems === 1 ? '' : 's'}.` : '\nNo problems.');
  if (problems) process.exitCode = 1;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`keygate: ${message}`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
