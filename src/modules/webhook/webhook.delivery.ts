import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Dialect } from '../../database/connect.js';
import type { Database } from '../../database/database.js';
import { isDatabaseUnavailable } from '../../database/errors.js';
import { type Clock, SECOND, systemClock } from '../../shared/clock.js';
import type { SecretBox } from '../../shared/secret-box.js';
import { type AttemptOutcome, OriginAgents, sendAttempt } from './webhook.attempt.js';
import {
  type AttemptRecord,
  type AttemptTarget,
  type ClaimedDelivery,
  claimDueDeliveries,
  findAttemptTargets,
  recordAttempt,
  releaseClaims,
} from './webhook.deliveries.repository.js';
import { parseRetryAfter, retryDelayMs } from './webhook.retry.js';
import { openSigningSecret, signatureHeaders } from './webhook.signing.js';
import type { UrlPolicy } from './webhook.url.js';

export interface DeliveryWorkerOptions {
  db: Kysely<Database>;
  dialect: Dialect;
  secretBox: SecretBox;
  /** Keygate's clock: when attempts are due, claims, and the 24 h of a rotated secret. */
  clock: Clock;
  logger: Logger;
  /** KEYGATE_WEBHOOK_ALLOW_PRIVATE, checked again at every attempt. */
  policy: UrlPolicy;
  /** KEYGATE_WEBHOOK_RETRY_SCHEDULE: seconds to wait after each failed attempt; after the last, FAILED. */
  retryScheduleSeconds: readonly number[];
  /** Written to `claimed_by`; unique per process by default. */
  instanceId?: string;
  /**
   * The `webhook-timestamp` of a signature. Receivers compare it with their
   * own clock to refuse replays, so it is the real time (the system clock),
   * even where tests move Keygate's clock by days.
   */
  signingClock?: Clock;
  /** For a whole attempt (default 15 s, SPEC §10). */
  timeoutMs?: number;
  /** Between two looks for due deliveries (default 1 s). */
  pollIntervalMs?: number;
  /** Attempts in flight in this instance (default 16). */
  maxInFlight?: number;
  /** Attempts in flight to one endpoint from this instance (default 2). */
  maxPerEndpoint?: number;
  /** Bytes of an answer's body read before the connection is closed (default 64 KiB). */
  maxResponseBytes?: number;
  /** How long `close()` lets attempts in flight finish before it releases them (default 5 s). */
  shutdownGraceMs?: number;
}

/** A claim outlives the attempt it covers by this much, so a claim never runs out while its attempt is in flight. */
const CLAIM_MARGIN_MS = 5 * SECOND;
const MAX_ORIGINS = 100;
const IDLE_SOCKET_MS = 30 * SECOND;

/** One attempt this instance is making: sending it (shutdown may abort), or recording its outcome (shutdown waits). */
interface InFlight {
  claim: ClaimedDelivery;
  phase: 'sending' | 'recording';
  abort: AbortController;
  done: Promise<void>;
}

/**
 * Delivers the outbox's webhooks (SPEC §10), at least once. Every poll it
 * claims the deliveries that are due, as many as it has free slots (in all
 * and per endpoint), and makes one attempt of each: the stored body, signed
 * with the endpoint's current secret (and the previous one for 24 h after a
 * rotation). A 2xx succeeds; anything else is retried on the schedule, or
 * after the receiver's `Retry-After` when that is longer, until the last
 * attempt fails the delivery. A claim is this instance's for one attempt:
 * another instance takes the delivery only once the claim has run out (this
 * one crashed), and an outcome is written only while the claim is still
 * ours, so no attempt is made twice by two instances. The database failing
 * mid-way loses nothing: an unrecorded attempt's claim runs out and the
 * delivery is tried again.
 */
export class WebhookDeliveryWorker {
  readonly instanceId: string;
  /** What this instance has done (tests and metrics read it). */
  readonly stats = { attempts: 0, succeeded: 0, failed: 0, retried: 0, claimsLost: 0, responseBodyBytes: 0 };
  private readonly inFlight = new Map<string, InFlight>();
  /** Attempts in flight per endpoint; an endpoint is listed only while it has one (at most maxInFlight entries). */
  private readonly perEndpoint = new Map<string, number>();
  private readonly agents: OriginAgents;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly maxPerEndpoint: number;
  /** Claims run one at a time in this instance, so free slots are counted once. */
  private claiming: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private woken = false;
  /** The last claim filled every free slot: more may be due as soon as a slot frees. */
  private moreDue = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.instanceId = options.instanceId ?? `${hostname().slice(0, 64)}/${process.pid}/${randomBytes(4).toString('hex')}`;
    this.timeoutMs = options.timeoutMs ?? 15 * SECOND;
    this.maxInFlight = options.maxInFlight ?? 16;
    this.maxPerEndpoint = options.maxPerEndpoint ?? 2;
    this.agents = new OriginAgents({
      maxOrigins: MAX_ORIGINS,
      maxSockets: this.maxInFlight,
      maxFreeSockets: this.maxPerEndpoint,
      idleMs: IDLE_SOCKET_MS,
    });
  }

  /** Polls for due deliveries until `close()`, starting now (deliveries left by a previous run go first). */
  start(): void {
    if (this.closing || this.started) return;
    this.started = true;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.closing) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick().finally(() => this.schedule(this.options.pollIntervalMs ?? SECOND));
    }, ms);
    this.timer.unref();
  }

  /** Looks for due deliveries at once rather than at the next poll (after a commit that added some); only once started. */
  wake(): void {
    if (!this.started || this.closing || this.woken) return;
    this.woken = true;
    setImmediate(() => {
      this.woken = false;
      void this.tick();
    });
  }

  /** One poll now: claims what is due and free slots allow, and resolves once those attempts are made and recorded. */
  async run(): Promise<void> {
    const attempts = await this.tick();
    await Promise.all(attempts);
  }

  /** Stops claiming, lets attempts in flight finish for the grace period, then releases the rest for another instance or the next start. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.claiming;
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      graceTimer = setTimeout(resolve, this.options.shutdownGraceMs ?? 5 * SECOND);
    });
    await Promise.race([Promise.all([...this.inFlight.values()].map((a) => a.done)), grace]);
    clearTimeout(graceTimer);
    const unfinished = [...this.inFlight.values()].filter((a) => a.phase === 'sending');
    for (const attempt of unfinished) attempt.abort.abort();
    if (unfinished.length > 0) {
      try {
        const released = await releaseClaims(
          this.options.db,
          this.instanceId,
          unfinished.map((a) => a.claim.id),
        );
        this.options.logger.info({ released }, 'webhook attempts in flight at shutdown released for a later attempt');
      } catch (err) {
        this.options.logger.warn({ err }, 'could not release webhook claims at shutdown; they run out by themselves');
      }
    }
    await Promise.all([...this.inFlight.values()].map((a) => a.done));
    this.agents.close();
  }

  /** Claims (one claim at a time in this instance) and starts attempts; resolves with their completions. */
  private tick(): Promise<Promise<void>[]> {
    const next = this.claiming.then(() => this.claimAndStart());
    this.claiming = next;
    return next;
  }

  private async claimAndStart(): Promise<Promise<void>[]> {
    const started: Promise<void>[] = [];
    const { db, dialect, clock, logger } = this.options;
    try {
      // Each round either fills the free slots or leaves an endpoint at its bound (skipped by the next round).
      for (let round = 0; round <= this.maxInFlight && !this.closing; round++) {
        const free = this.maxInFlight - this.inFlight.size;
        if (free <= 0) {
          this.moreDue = true;
          break;
        }
        const now = clock.now();
        const claimUntil = new Date(now.getTime() + this.timeoutMs + CLAIM_MARGIN_MS);
        const claimed = await claimDueDeliveries(db, dialect, {
          instanceId: this.instanceId,
          now,
          claimUntil,
          limit: free,
          skipEndpoints: [...this.perEndpoint].filter(([, n]) => n >= this.maxPerEndpoint).map(([id]) => id),
        });
        if (claimed.length === 0) {
          this.moreDue = false;
          break;
        }
        const taken: ClaimedDelivery[] = [];
        const surplus: string[] = [];
        const planned = new Map(this.perEndpoint);
        for (const claim of claimed) {
          const count = planned.get(claim.endpointId) ?? 0;
          if (count >= this.maxPerEndpoint || this.closing) surplus.push(claim.id);
          else {
            planned.set(claim.endpointId, count + 1);
            taken.push(claim);
          }
        }
        // More than an endpoint may take at once: given back, due again at once (to whichever instance has room).
        if (surplus.length > 0) await releaseClaims(db, this.instanceId, surplus);
        const targets = await findAttemptTargets(
          db,
          taken.map((c) => c.id),
        );
        for (const claim of taken) {
          const target = targets.get(claim.id);
          if (target) started.push(this.begin(claim, target, claimUntil));
        }
        this.moreDue = claimed.length === free;
        if (surplus.length === 0) break;
      }
    } catch (err) {
      // Claims made before the failure run out by themselves and are retried; the next poll tries again.
      if (isDatabaseUnavailable(err))
        logger.warn({ err }, 'webhook delivery could not reach the database; retrying at the next poll');
      else logger.error({ err }, 'webhook delivery could not claim due deliveries; retrying at the next poll');
    }
    return started;
  }

  private begin(claim: ClaimedDelivery, target: AttemptTarget, claimUntil: Date): Promise<void> {
    this.perEndpoint.set(claim.endpointId, (this.perEndpoint.get(claim.endpointId) ?? 0) + 1);
    const attempt: InFlight = { claim, phase: 'sending', abort: new AbortController(), done: Promise.resolve() };
    this.inFlight.set(claim.id, attempt);
    attempt.done = this.attempt(attempt, target, claimUntil)
      .catch((err) => this.options.logger.error({ err, deliveryId: claim.id }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(claim.id);
        const left = (this.perEndpoint.get(claim.endpointId) ?? 1) - 1;
        if (left > 0) this.perEndpoint.set(claim.endpointId, left);
        else this.perEndpoint.delete(claim.endpointId);
        if (this.moreDue) this.wake();
      });
    return attempt.done;
  }

  private async attempt(attempt: InFlight, target: AttemptTarget, claimUntil: Date): Promise<void> {
    const { clock, logger } = this.options;
    const { claim } = attempt;
    const attemptedAt = clock.now();
    // A claim about to run out (a slow database between claim and send) is not used: another instance may take it.
    if (attemptedAt.getTime() + this.timeoutMs > claimUntil.getTime()) {
      await releaseClaims(this.options.db, this.instanceId, [claim.id]);
      return;
    }
    const outcome = await this.send(target, attemptedAt, attempt.abort.signal);
    // Shutdown aborted the attempt: close() releases the claim, and the delivery is tried again.
    if (attempt.abort.signal.aborted) return;
    attempt.phase = 'recording';
    this.stats.attempts++;
    const record = this.recordOf(claim, outcome, attemptedAt);
    if (record.status === 'SUCCEEDED') this.stats.succeeded++;
    else if (record.status === 'FAILED') this.stats.failed++;
    else this.stats.retried++;
    logger.debug(
      {
        deliveryId: claim.id,
        endpointId: claim.endpointId,
        status: record.status,
        responseStatus: record.responseStatus,
        error: record.error,
      },
      'webhook attempt',
    );
    try {
      if (!(await recordAttempt(this.options.db, this.instanceId, claim.id, record))) {
        this.stats.claimsLost++;
        logger.warn({ deliveryId: claim.id }, 'webhook claim ran out before the attempt was recorded; the other instance counts');
      }
    } catch (err) {
      logger.warn(
        { err, deliveryId: claim.id },
        'could not record a webhook attempt; its claim runs out and the delivery is attempted again',
      );
    }
  }

  private async send(target: AttemptTarget, attemptedAt: Date, signal: AbortSignal): Promise<AttemptOutcome> {
    let url: URL;
    let secrets: string[];
    try {
      url = new URL(target.url);
    } catch {
      return { succeeded: false, responseStatus: null, error: 'refused: not a URL', retryAfter: undefined };
    }
    try {
      secrets = this.signingSecrets(target, attemptedAt);
    } catch {
      // Sealed under another master key, or tampered with: said without the secret or the cipher text.
      return { succeeded: false, responseStatus: null, error: 'signing secret could not be opened', retryAfter: undefined };
    }
    const headers = signatureHeaders(secrets, target.eventId, (this.options.signingClock ?? systemClock).now(), target.payload);
    return sendAttempt(
      { url, body: target.payload, headers },
      {
        policy: this.options.policy,
        timeoutMs: this.timeoutMs,
        maxResponseBytes: this.options.maxResponseBytes ?? 64 * 1024,
      },
      this.agents,
      {
        signal,
        onBodyBytes: (bytes) => {
          this.stats.responseBodyBytes += bytes;
        },
      },
    );
  }

  /** The current secret, and the previous one until 24 h after the rotation that replaced it. */
  private signingSecrets(target: AttemptTarget, at: Date): string[] {
    const { secretBox } = this.options;
    const secrets = [openSigningSecret(secretBox, target.endpointId, target.secretSealed)];
    if (
      target.previousSecretSealed &&
      target.previousSecretExpiresAt &&
      new Date(target.previousSecretExpiresAt).getTime() > at.getTime()
    )
      secrets.push(openSigningSecret(secretBox, target.endpointId, target.previousSecretSealed));
    return secrets;
  }

  private recordOf(claim: ClaimedDelivery, outcome: AttemptOutcome, attemptedAt: Date): AttemptRecord {
    const attempts = claim.attempts + 1;
    const base = { attempts, attemptedAt, responseStatus: outcome.responseStatus, error: outcome.error };
    if (outcome.succeeded) return { ...base, status: 'SUCCEEDED', nextAttemptAt: null };
    const now = this.options.clock.now();
    const delay = retryDelayMs(attempts, this.options.retryScheduleSeconds, parseRetryAfter(outcome.retryAfter, now));
    if (delay === null) return { ...base, status: 'FAILED', nextAttemptAt: null };
    return { ...base, status: 'PENDING', nextAttemptAt: new Date(now.getTime() + delay) };
  }
}
