import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../database/database.js';
import { isDatabaseUnavailable } from '../../database/errors.js';
import { type Clock, SECOND } from '../../shared/clock.js';
import { type ExpiryCursor, findKeysByIds, findKeysExpiringBetween } from '../api-key/api-key.repository.js';
import { SYSTEM_ACTOR } from '../audit/actor.js';
import { emitDueExpiryNotice } from './webhook.outbox.js';
import { dueExpiryNotice, EXPIRED_NOTICE_LOOKBACK_MS, EXPIRY_WINDOWS } from './webhook.payload.js';
import { existingDedupeKeys } from './webhook.repository.js';

export interface ExpirySchedulerOptions {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** Writes this instance's pending key uses before a pass, so `inUse` counts the latest requests. */
  flushKeyUsage?: () => Promise<void>;
  /** Between passes (default 15 s). */
  intervalMs?: number;
  /** Keys read per statement (default 200). */
  batchSize?: number;
}

export const DEFAULT_SCHEDULER_INTERVAL_MS = 15 * SECOND;

/** The widest expiring window: keys further from their expiry are not looked at. */
const WIDEST_WINDOW_MS = Math.max(...EXPIRY_WINDOWS.map((w) => w.ms));

/**
 * Sends the expiry notices of SPEC §10: `api_key.expiring` once when a key's
 * expiry comes within 24 h and once within 1 h, `api_key.expired` once it
 * has passed. Stateless: each pass looks at the keys whose expiry is
 * within 24 h or passed in the last 7 days (an index range) and writes the
 * notice each one is due, if the outbox does not hold it yet. The notice's
 * dedupe key (key, window, expiry) is unique in the outbox, so it exists
 * once whatever the number of instances or passes, and a notice that fell
 * due while Keygate was down is written by the first pass after it starts.
 * Notices a change is due at once (a ONE_HOUR rotation) are written by the
 * change itself (webhook.outbox.ts), with the same keys.
 */
export class ExpiryScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  /** What the passes did (tests and metrics read it). */
  readonly stats = { passes: 0, noticesWritten: 0, failures: 0 };

  constructor(private readonly options: ExpirySchedulerOptions) {}

  /** The first pass follows the start closely: notices due while Keygate was down go out now. */
  start(): void {
    this.schedule(Math.min(this.options.intervalMs ?? DEFAULT_SCHEDULER_INTERVAL_MS, SECOND));
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run().finally(() => this.schedule(this.options.intervalMs ?? DEFAULT_SCHEDULER_INTERVAL_MS));
    }, ms);
    this.timer.unref?.();
  }

  /** One pass now (or the one already running). */
  run(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private async pass(): Promise<void> {
    if (this.closed) return;
    try {
      await this.options.flushKeyUsage?.();
      await this.writeDueNotices();
      this.stats.passes++;
    } catch (err) {
      this.stats.failures++;
      if (isDatabaseUnavailable(err))
        this.options.logger.warn({ err }, 'webhook expiry notices: database unreachable; next pass retries');
      else this.options.logger.error({ err }, 'webhook expiry notices failed; next pass retries');
    }
  }

  private async writeDueNotices(): Promise<void> {
    const { db, clock } = this.options;
    const batchSize = this.options.batchSize ?? 200;
    const now = clock.now();
    const range = {
      from: new Date(now.getTime() - EXPIRED_NOTICE_LOOKBACK_MS).toISOString(),
      to: new Date(now.getTime() + WIDEST_WINDOW_MS).toISOString(),
    };
    let after: ExpiryCursor | null = null;
    while (!this.closed) {
      const keys = await findKeysExpiringBetween(db, range, after, batchSize);
      if (keys.length === 0) return;
      const last = keys.at(-1)!;
      after = { expiresAt: last.expiresAt!, id: last.id };
      const due = keys.flatMap((key) => {
        const notice = dueExpiryNotice(key, now);
        return notice ? [{ key, notice }] : [];
      });
      // Most keys' notices exist already: one indexed read leaves out those, before any transaction.
      const written = await existingDedupeKeys(
        db,
        due.map((d) => d.notice.dedupeKey),
      );
      for (const { key, notice } of due) {
        if (this.closed) return;
        if (written.has(notice.dedupeKey)) continue;
        const wrote = await db.transaction().execute(async (trx) => {
          // The key as it is now: a rotation, grace change or revocation since the read decides.
          const [fresh] = await findKeysByIds(trx, [key.id]);
          if (!fresh || dueExpiryNotice(fresh, now)?.dedupeKey !== notice.dedupeKey) return false;
          return emitDueExpiryNotice(trx, fresh, now, SYSTEM_ACTOR);
        });
        if (wrote) this.stats.noticesWritten++;
      }
      if (keys.length < batchSize) return;
    }
  }
}
