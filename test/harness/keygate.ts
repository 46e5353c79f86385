import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { afterAll } from 'vitest';
import { createKeygate, type Keygate, type KeygateOptions } from '../../src/app.js';
import { addUserToAccount, type BootstrapResult, bootstrapAccount } from '../../src/modules/account/account.service.js';
import type { Plan, Role } from '../../src/modules/account/account.table.js';
import { type IssuedKey, issueKey } from '../../src/modules/api-key/api-key.change.js';
import { normaliseScopes } from '../../src/modules/permission/permission.model.js';
import { ManualClock } from '../../src/shared/clock.js';
import { freshDatabaseUrl } from './database.js';
import { captureLog, rememberSecrets, rememberSecretsIn } from './leak-scan.js';

/** Every log line any test Keygate wrote in this worker. */
export const capturedLogs: string[] = [];

export interface TestKeygate {
  keygate: Keygate;
  clock: ManualClock;
  /** Raw HTTP through Yoga's fetch (no ports). */
  fetch(body: unknown, headers?: Record<string, string>, init?: { method?: string; path?: string }): Promise<Response>;
  /** A typed contract operation with a credential; returns HTTP status and the parsed body. */
  run<TData, TVars>(
    document: TypedDocumentNode<TData, TVars>,
    variables: TVars,
    credential?: Credential,
  ): Promise<{ status: number; body: ExecutionResult<TData> }>;
  /** An untyped query, for cases the contract operations do not cover. */
  query<TData = Record<string, any>>(
    source: string,
    variables?: Record<string, unknown>,
    credential?: Credential,
  ): Promise<{ status: number; body: ExecutionResult<TData> }>;
}

/** How a test authenticates: an API key secret, a session token, or raw headers. */
export type Credential = { key: string } | { token: string } | { headers: Record<string, string> } | null;

function headersFor(credential: Credential | undefined): Record<string, string> {
  if (!credential) return {};
  if ('key' in credential) return { 'x-api-key': credential.key };
  if ('token' in credential) return { authorization: `Bearer ${credential.token}` };
  return credential.headers;
}

/** A Keygate on a private database (in-memory SQLite, or a fresh PostgreSQL schema) with a manual clock; closed after the file. */
export async function startTestKeygate(
  extra: Partial<KeygateOptions['config']> = {},
  options: Pick<KeygateOptions, 'retention' | 'webhookScheduler' | 'webhookDelivery'> = {},
): Promise<TestKeygate> {
  const clock = new ManualClock('2026-06-01T12:00:00.000Z');
  const logSink = new Writable({
    write(chunk, _enc, done) {
      capturedLogs.push(String(chunk));
      // Every line goes to the end-of-run leak scan (test/harness/leak-scan.ts).
      captureLog(String(chunk));
      done();
    },
  });
  const keygate = await createKeygate({
    config: {
      databaseUrl: await freshDatabaseUrl(),
      databasePoolSize: 4,
      masterKey: randomBytes(32),
      sessionSecret: randomBytes(32),
      logLevel: 'debug',
      // Suites fire hundreds of requests a second from one address; limits have their own tests.
      rateLimit: { perKey: 0, overrides: new Map(), failedAuthPerMinute: 0 },
      ...extra,
    },
    clock,
    logDestination: logSink,
    // Retention passes run when a test runs them (the manual clock moves by days without the monotonic clock).
    retention: { enabled: false, monotonic: () => clock.now().getTime(), ...options.retention },
    // Expiry notice passes too (deps.webhooks.scheduler.run()): the manual clock decides what is due.
    webhookScheduler: { enabled: false, ...options.webhookScheduler },
    // Webhook polls run when a test runs them (`deps.webhookDelivery.run()`), at the manual clock's time.
    webhookDelivery: { enabled: false, ...options.webhookDelivery },
  });
  afterAll(() => keygate.close());

  const fetch: TestKeygate['fetch'] = (body, headers = {}, init = {}) =>
    Promise.resolve(
      keygate.yoga.fetch(`http://keygate.test${init.path ?? '/graphql'}`, {
        method: init.method ?? 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: init.method === 'GET' ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );

  const query: TestKeygate['query'] = async (source, variables = {}, credential) => {
    const res = await fetch({ query: source, variables }, headersFor(credential));
    const text = await res.text();
    rememberSecretsIn(text);
    return { status: res.status, body: JSON.parse(text) as ExecutionResult<any> };
  };

  return {
    keygate,
    clock,
    fetch,
    query,
    run: (document, variables, credential) => query(print(document), variables as Record<string, unknown>, credential),
  };
}

let tenantCounter = 0;

function remembered(token: string): string {
  rememberSecrets(token);
  return token;
}

export interface Tenant {
  result: BootstrapResult;
  accountId: string;
  owner: { id: string; email: string; token: string };
  dev: { id: string; fullAccessKey: IssuedKey; publishableKey: IssuedKey };
  prod: { id: string; fullAccessKey: IssuedKey; publishableKey: IssuedKey };
  /** A user of this account with a role, and their session token. */
  user(role: Role): Promise<{ id: string; email: string; token: string }>;
  /** A scoped key in an environment (Development by default), inserted directly as a fixture. */
  scopedKey(scopes: string[], options?: { environmentId?: string; name?: string }): Promise<IssuedKey>;
}

/** Seeds a fresh account (owner, Development and Production) so tests never share a tenant. */
export async function seedTenant(t: TestKeygate, options: { plan?: Plan } = {}): Promise<Tenant> {
  const { deps } = t.keygate;
  const n = ++tenantCounter;
  const result = await bootstrapAccount(deps, {
    name: `Tenant ${n}`,
    plan: options.plan ?? 'SCALE',
    ownerEmail: `owner${n}-${randomBytes(3).toString('hex')}@tenant.test`,
  });
  rememberSecrets(...result.environments.flatMap((e) => [e.fullAccess.secret, e.publishable.secret]));
  const env = (i: number) => {
    const e = result.environments[i]!;
    return { id: e.env.id, fullAccessKey: e.fullAccess, publishableKey: e.publishable };
  };
  return {
    result,
    accountId: result.account.id,
    owner: { id: result.owner.id, email: result.owner.email, token: remembered(await deps.sessions.mint(result.owner.id, 3600)) },
    dev: env(0),
    prod: env(1),
    async user(role) {
      const { user } = await addUserToAccount(deps, {
        accountId: result.account.id,
        email: `${role.toLowerCase()}${n}-${randomBytes(3).toString('hex')}@tenant.test`,
        role,
      });
      return { id: user.id, email: user.email, token: remembered(await deps.sessions.mint(user.id, 3600)) };
    },
    async scopedKey(scopes, keyOptions = {}) {
      const normalised = normaliseScopes(scopes, deps.gateway.catalogue).scopes;
      if (!normalised) throw new Error(`bad fixture scopes ${scopes}`);
      const issued = await deps.db.transaction().execute((trx) =>
        issueKey(trx, deps, {
          accountId: result.account.id,
          environmentId: keyOptions.environmentId ?? result.environments[0]!.env.id,
          type: 'SCOPED',
          name: keyOptions.name ?? `Scoped ${scopes.join(' ')}`,
          description: null,
          scopes: normalised,
          actor: { type: 'SYSTEM', id: null, displayName: 'System' },
          now: t.clock.now(),
        }),
      );
      rememberSecrets(issued.secret);
      return issued;
    },
  };
}

/** The `extensions.code` of every error, in order. */
export function codes(body: ExecutionResult<unknown>): string[] {
  return (body.errors ?? []).map((e) => String(e.extensions?.code));
}

/**
 * Changes a key behind the API (an expiry or revocation the API cannot set
 * directly), as an operator editing the database would, and drops it from
 * the verification cache as the lifecycle services do.
 */
export async function setKeyColumns(
  t: TestKeygate,
  keyId: string,
  patch: { expires_at?: string | null; revoked_at?: string | null },
): Promise<void> {
  await t.keygate.deps.db.updateTable('api_keys').set(patch).where('id', '=', keyId).execute();
  t.keygate.deps.keyCache.invalidate(keyId);
}

/** Config for a Keygate a test builds itself: a fresh database, fresh secrets, quiet logs, plus `extra`. */
export async function testKeygateConfig(extra: Partial<KeygateOptions['config']> = {}): Promise<KeygateOptions['config']> {
  return {
    databaseUrl: extra.databaseUrl ?? (await freshDatabaseUrl()),
    databasePoolSize: 2,
    masterKey: randomBytes(32),
    sessionSecret: randomBytes(32),
    logLevel: 'silent',
    ...extra,
  };
}
