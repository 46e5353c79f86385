import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../../database/connect.js';
import type { Database } from '../../database/database.js';
import type { WebhookDeliveryStatus } from './webhook.table.js';

type Db = Kysely<Database>;

/** A delivery this instance holds for one attempt. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  /** Attempts made before this one. */
  attempts: number;
}

export interface ClaimRequest {
  /** Who claims: written to `claimed_by`, and required of every write that follows. */
  instanceId: string;
  now: Date;
  /** When the claim runs out if this instance never reports (it crashed): longer than any attempt takes. */
  claimUntil: Date;
  limit: number;
  /** Endpoints this instance already has at their concurrency bound. */
  skipEndpoints: readonly string[];
}

/**
 * Claims up to `limit` deliveries that are due, oldest first, for this
 * instance. One statement: on PostgreSQL the rows are chosen `FOR UPDATE
 * SKIP LOCKED`, so instances claiming at the same moment take disjoint rows
 * without waiting on each other, and a row claimed meanwhile fails the
 * `claimed_until` test when PostgreSQL re-reads it; SQLite has one writer,
 * so the statement alone is atomic. Deliveries of a disabled endpoint wait
 * until it is enabled again. The scan follows the (status, next_attempt_at)
 * index.
 */
export async function claimDueDeliveries(db: Db, dialect: Dialect, request: ClaimRequest): Promise<ClaimedDelivery[]> {
  const now = request.now.toISOString();
  const rows = await db
    .updateTable('webhook_deliveries')
    .set({ claimed_by: request.instanceId, claimed_until: request.claimUntil.toISOString() })
    .where('id', 'in', (eb) => {
      let due = eb
        .selectFrom('webhook_deliveries as due')
        .select('due.id')
        .where('due.status', '=', 'PENDING')
        .where('due.next_attempt_at', '<=', now)
        .where((w) => w.or([w('due.claimed_until', 'is', null), w('due.claimed_until', '<', now)]))
        .where((w) =>
          w.exists(
            w
              .selectFrom('webhook_endpoints')
              .select(sql.lit(1).as('one'))
              .whereRef('webhook_endpoints.id', '=', 'due.endpoint_id')
              .where('webhook_endpoints.enabled', '=', sql.lit(true)),
          ),
        )
        .orderBy('due.next_attempt_at')
        .orderBy('due.id')
        .limit(request.limit);
      if (request.skipEndpoints.length > 0) due = due.where('due.endpoint_id', 'not in', [...request.skipEndpoints]);
      return dialect === 'postgres' ? due.forUpdate().skipLocked() : due;
    })
    .returning(['id', 'endpoint_id', 'attempts'])
    .execute();
  return rows.map((row) => ({ id: row.id, endpointId: row.endpoint_id, attempts: row.attempts }));
}

/** What one attempt sends, and where: the stored body, the endpoint's URL and its sealed signing secrets. */
export interface AttemptTarget {
  deliveryId: string;
  endpointId: string;
  eventId: string;
  /** The event's stored JSON, sent byte for byte. */
  payload: string;
  url: string;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: string | null;
}

/** The targets of claimed deliveries, by delivery id (a delivery whose endpoint was deleted meanwhile is missing). */
export async function findAttemptTargets(db: Db, deliveryIds: readonly string[]): Promise<Map<string, AttemptTarget>> {
  if (deliveryIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('webhook_deliveries')
    .innerJoin('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id')
    .innerJoin('webhook_endpoints', 'webhook_endpoints.id', 'webhook_deliveries.endpoint_id')
    .select([
      'webhook_deliveries.id as deliveryId',
      'webhook_endpoints.id as endpointId',
      'webhook_events.id as eventId',
      'webhook_events.payload',
      'webhook_endpoints.url',
      'webhook_endpoints.secret_encrypted as secretSealed',
      'webhook_endpoints.previous_secret_encrypted as previousSecretSealed',
      'webhook_endpoints.previous_secret_expires_at as previousSecretExpiresAt',
    ])
    .where('webhook_deliveries.id', 'in', [...deliveryIds])
    .execute();
  return new Map(rows.map((row) => [row.deliveryId, row]));
}

/** The outcome of one attempt as the deliveries table keeps it. */
export interface AttemptRecord {
  status: WebhookDeliveryStatus;
  attempts: number;
  attemptedAt: Date;
  responseStatus: number | null;
  error: string | null;
  /** When the next attempt is due; null once SUCCEEDED or FAILED. */
  nextAttemptAt: Date | null;
}

/**
 * Writes an attempt's outcome and ends the claim, only if the claim is still
 * this instance's (false otherwise: it ran out and another instance took the
 * delivery, whose outcome then counts).
 */
export async function recordAttempt(db: Db, instanceId: string, deliveryId: string, record: AttemptRecord): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({
      status: record.status,
      attempts: record.attempts,
      last_attempt_at: record.attemptedAt.toISOString(),
      last_response_status: record.responseStatus,
      last_error: record.error,
      next_attempt_at: record.nextAttemptAt?.toISOString() ?? null,
      claimed_by: null,
      claimed_until: null,
    })
    .where('id', '=', deliveryId)
    .where('claimed_by', '=', instanceId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives claimed deliveries back without an outcome (shutdown, or more than an endpoint may take now): due again at once. */
export async function releaseClaims(db: Db, instanceId: string, deliveryIds: readonly string[]): Promise<number> {
  if (deliveryIds.length === 0) return 0;
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ claimed_by: null, claimed_until: null })
    .where('id', 'in', [...deliveryIds])
    .where('claimed_by', '=', instanceId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
