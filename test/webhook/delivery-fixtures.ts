import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Kysely, sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../../src/database/database.js';
import type { Deps } from '../../src/deps.js';
import { newSigningSecret, sealSigningSecret } from '../../src/modules/webhook/webhook.signing.js';
import type { WebhookDeliveryRow } from '../../src/modules/webhook/webhook.table.js';
import { newId } from '../../src/shared/ids.js';
import { dialect } from '../harness/database.js';
import { rememberSecrets } from '../harness/leak-scan.js';

/** One request a receiver got, with the trusted secrets its signature verifies under (the standardwebhooks package decides). */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  verifiedBy: string[];
}

/**
 * A webhook receiver on loopback, as a user would write one: every request
 * is verified with the `standardwebhooks` package against the secrets it
 * trusts, and one that verifies under none is answered 401. What it answers
 * otherwise is the test's `respond` (204 by default).
 */
export class Receiver {
  readonly requests: ReceivedWebhook[] = [];
  /** TCP connections accepted, whether or not a request came over them. */
  connections = 0;
  respond: (request: ReceivedWebhook, res: ServerResponse) => void = (_request, res) => res.writeHead(204).end();
  private readonly secrets: string[] = [];
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keygate`);
    server.on('connection', () => receiver.connections++);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = req.headers;
        const verifiedBy = receiver.secrets.filter((secret) => {
          try {
            new Webhook(secret).verify(body, headers as Record<string, string>);
            return true;
          } catch {
            return false;
          }
        });
        const request = { headers, body, verifiedBy };
        receiver.requests.push(request);
        if (verifiedBy.length === 0) res.writeHead(401).end();
        else receiver.respond(request, res);
      });
    });
    return receiver;
  }

  /** Secrets this receiver verifies signatures with. */
  trust(...secrets: string[]): this {
    this.secrets.push(...secrets);
    return this;
  }

  /** The `webhook-id` of every request, in arrival order. */
  get ids(): string[] {
    return this.requests.map((r) => String(r.headers['webhook-id']));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Resolves once `condition` holds, polling; fails after `ms` with `what`. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

type FixtureDeps = Pick<Deps, 'db' | 'secretBox' | 'clock'>;

/** An endpoint inserted directly (the API's own tests create them through GraphQL); its secret is remembered for the leak scan. */
export async function insertEndpoint(
  deps: FixtureDeps,
  scope: { accountId: string; environmentId: string },
  url: string,
  options: { secret?: string; previousSecret?: string; previousSecretExpiresAt?: Date; enabled?: boolean } = {},
): Promise<{ id: string; secret: string }> {
  const id = newId('whe');
  const secret = options.secret ?? newSigningSecret();
  rememberSecrets(secret, ...(options.previousSecret ? [options.previousSecret] : []));
  const now = deps.clock.now().toISOString();
  await deps.db
    .insertInto('webhook_endpoints')
    .values({
      id,
      account_id: scope.accountId,
      environment_id: scope.environmentId,
      url,
      description: null,
      event_types: '[]',
      enabled: dbBoolean(options.enabled ?? true),
      secret_encrypted: sealSigningSecret(deps.secretBox, id, secret),
      previous_secret_encrypted: options.previousSecret ? sealSigningSecret(deps.secretBox, id, options.previousSecret) : null,
      previous_secret_expires_at: options.previousSecretExpiresAt?.toISOString() ?? null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return { id, secret };
}

/** A boolean as the column takes it on this run's dialect (1/0 on SQLite). */
export const dbBoolean = (value: boolean): boolean | number => (dialect === 'sqlite' ? Number(value) : value);

/**
 * An event in the outbox and its delivery to `endpointId`, as the outbox
 * writes them: PENDING, no attempt yet, due now. The body is written with
 * odd spacing and non-ASCII text, so a receiver can tell it got the stored
 * bytes, not a re-serialisation.
 */
export async function enqueueDelivery(
  deps: FixtureDeps,
  scope: { accountId: string; environmentId: string },
  endpointId: string,
  options: { payload?: string; claimedBy?: string; claimedUntil?: Date } = {},
): Promise<{ deliveryId: string; eventId: string; payload: string }> {
  const eventId = newId('wev');
  const deliveryId = newId('whd');
  const now = deps.clock.now().toISOString();
  const payload =
    options.payload ??
    `{"type": "webhook.test", "timestamp": "${now}",  "data": {"environmentId": "${scope.environmentId}", "note": "naïve ✓ ${eventId}"}}`;
  await deps.db
    .insertInto('webhook_events')
    .values({
      id: eventId,
      account_id: scope.accountId,
      environment_id: scope.environmentId,
      type: 'webhook.test',
      payload,
      dedupe_key: null,
      created_at: now,
    })
    .execute();
  await deps.db
    .insertInto('webhook_deliveries')
    .values({
      id: deliveryId,
      event_id: eventId,
      endpoint_id: endpointId,
      environment_id: scope.environmentId,
      status: 'PENDING',
      attempts: 0,
      next_attempt_at: now,
      last_attempt_at: null,
      last_response_status: null,
      last_error: null,
      claimed_by: options.claimedBy ?? null,
      claimed_until: options.claimedUntil?.toISOString() ?? null,
      created_at: now,
    })
    .execute();
  return { deliveryId, eventId, payload };
}

/** A delivery's row as stored. */
export async function deliveryRow(db: Kysely<Database>, id: string): Promise<WebhookDeliveryRow> {
  return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** Stops every endpoint's deliveries (between tests: one test's retries never reach the next test's polls). */
export async function disableAllEndpoints(db: Kysely<Database>): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ enabled: dbBoolean(false) })
    .execute();
}

/**
 * Makes the database refuse updates of deliveries matching `condition` (a
 * trigger, in each dialect's language), as a database going away mid-way
 * would fail them; returns the function that lifts it.
 */
export async function refuseDeliveryUpdates(db: Kysely<Database>, name: string, condition: string): Promise<() => Promise<void>> {
  if (dialect === 'sqlite') {
    await sql
      .raw(
        `create trigger ${name} before update on webhook_deliveries when ${condition} begin select raise(abort, 'storage refused the update'); end`,
      )
      .execute(db);
    return async () => void (await sql.raw(`drop trigger ${name}`).execute(db));
  }
  await sql
    .raw(
      `create function ${name}() returns trigger language plpgsql as $$ begin raise exception 'storage refused the update'; end $$`,
    )
    .execute(db);
  await sql
    .raw(`create trigger ${name} before update on webhook_deliveries for each row when (${condition}) execute function ${name}()`)
    .execute(db);
  return async () => void (await sql.raw(`drop function ${name}() cascade`).execute(db));
}
