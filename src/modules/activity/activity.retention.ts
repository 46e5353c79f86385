import type { Logger } from 'pino';
import type { Checkpointer } from '../../database/checkpointer.js';
import { isDatabaseUnavailable } from '../../database/errors.js';
import { type Clock, DAY, HOUR, MINUTE } from '../../shared/clock.js';
import type { Plan } from '../account/account.table.js';
import { dayOf, dropPartition, environmentsInPartition, listPartitions } from './activity.partitions.js';
import { type ActivityStore, deleteAgedCounts, deleteAgedEvents, environmentsWithActivity } from './activity.repository.js';

/** Days of activity each plan keeps (SPEC §3; KEYGATE_ACTIVITY_RETENTION_DAYS overrides them all). */
export const RETENTION_DAYS: Record<Plan, number> = { FREE: 7, GROWTH: 30, SCALE: 90 };

/**
 * How long activity is kept. The window starts on a whole hour, so the
 * hourly counters alone give a total over it: an event is kept for its
 * plan's days and at most one hour more.
 */
export class ActivityRetention {
  constructor(readonly overrideDays: number | null = null) {}

  days(plan: Plan): number {
    return this.overrideDays ?? RETENTION_DAYS[plan];
  }

  /** The longest any plan keeps (PostgreSQL drops whole days older than that). */
  get maxDays(): number {
    return this.overrideDays ?? Math.max(...Object.values(RETENTION_DAYS));
  }

  /** The shortest any plan keeps: no day younger than that can have aged for every environment. */
  get minDays(): number {
    return this.overrideDays ?? Math.min(...Object.values(RETENTION_DAYS));
  }

  /** The oldest time still visible for an account of this plan. */
  cutoffMs(plan: Plan, nowMs: number): number {
    return Math.floor((nowMs - this.days(plan) * DAY) / HOUR) * HOUR;
  }
}

export interface RetentionOptions {
  store: ActivityStore;
  retention: ActivityRetention;
  clock: Clock;
  logger: Logger;
  /** A monotonic clock in milliseconds (performance.now by default); a wall clock leaping ahead of it pauses deletion. */
  monotonic?: () => number;
  /** Between passes (default one minute). */
  intervalMs?: number;
  /**
   * Rows per delete statement (default 250): short statements, so writers
   * never wait long. On SQLite, where a statement holds the event loop, 250
   * rows take about 0.5 ms and 500 about 1 ms once WAL checkpoints run off
   * the event loop (checkpointer below); a commit that checkpoints took
   * 5-12 ms whatever the batch.
   */
  batchSize?: number;
  /**
   * Pause after each delete statement (default 2 ms), so the requests that
   * wait on the event loop and on the database run between two batches (a
   * bare yield left the next batch to start among their steps).
   */
  pauseMs?: number;
  /**
   * SQLite's WAL checkpoints (database/checkpointer.ts): between batches the
   * pass waits while the log holds more than BACKLOG_PAGES not yet copied,
   * so the log can catch up and start over (a passive checkpoint never
   * catches a log that grows while it copies).
   */
  checkpointer?: Pick<Checkpointer, 'backlog' | 'caughtUp'> | null;
}

/** A wall clock ahead of the monotonic one by more than this is taken for a jump, not for time passing. */
const MAX_CLOCK_LEAP_MS = HOUR;

/**
 * Deletes activity older than each environment's window, off the request
 * path and in bounded steps: every statement deletes at most `batchSize`
 * rows (its own transaction: a crash leaves whole batches, never part of
 * one) and the pass yields to requests between statements. On PostgreSQL,
 * a day is dropped whole as a partition once it has aged for every
 * environment with events in it (at the latest when it is older than the
 * longest window), so the rows are deleted one by one only where a day
 * holds environments of different windows.
 * Reads never depend on it: they see only the window, whether or not the
 * aged rows are gone yet. A failed pass (the database away) is retried on
 * the next one; a wall clock that leaps ahead pauses deletion until it
 * agrees with the monotonic clock again, so a bad clock cannot delete
 * what is still in the window.
 */
export class RetentionWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private baseline: { wall: number; mono: number } | null = null;
  private closed = false;
  /** What the last passes did (tests and metrics read it). */
  readonly stats = {
    passes: 0,
    eventsDeleted: 0,
    countsDeleted: 0,
    partitionsDropped: 0,
    webhookEventsDeleted: 0,
    skipped: 0,
  };

  constructor(private readonly options: RetentionOptions) {}

  /** Lets waiting requests run between two delete statements (better-sqlite3 holds the event loop while one runs). */
  private async pause(): Promise<void> {
    const { checkpointer } = this.options;
    if (checkpointer && checkpointer.backlog > BACKLOG_PAGES) await checkpointer.caughtUp(BACKLOG_WAIT_MS);
    const ms = this.options.pauseMs ?? PAUSE_MS;
    await new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
  }

  start(): void {
    this.schedule(Math.min(this.options.intervalMs ?? MINUTE, 10_000));
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run().finally(() => this.schedule(this.options.intervalMs ?? MINUTE));
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

  private clockTrusted(): boolean {
    const wall = this.options.clock.now().getTime();
    const mono = (this.options.monotonic ?? (() => performance.now()))();
    if (!this.baseline) {
      this.baseline = { wall, mono };
      return true;
    }
    const leap = wall - this.baseline.wall - (mono - this.baseline.mono);
    if (leap > MAX_CLOCK_LEAP_MS) {
      this.options.logger.warn(
        { leapMs: Math.round(leap) },
        'the wall clock jumped ahead of the monotonic clock: activity retention is paused until they agree',
      );
      return false;
    }
    // Time ran normally (or the clock went back): follow it.
    this.baseline = { wall, mono };
    return true;
  }

  private async pass(): Promise<void> {
    if (this.closed) return;
    if (!this.clockTrusted()) {
      this.stats.skipped++;
      return;
    }
    try {
      await this.dropAgedPartitions();
      await this.deleteAgedRows();
      await this.deleteAgedWebhookEvents();
      this.stats.passes++;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) this.options.logger.error({ err }, 'activity retention failed');
      else this.options.logger.warn({ err }, 'activity retention could not reach the database; retrying next pass');
    }
  }

  /**
   * Partition days, by name, found holding an environment whose window still
   * covers them, with the moment they age for every environment seen then:
   * not looked into again before it. Only a shortcut: a day is looked into
   * afresh before it is dropped.
   */
  private readonly heldUntil = new Map<string, number>();

  private async dropAgedPartitions(): Promise<void> {
    const { store, retention, clock } = this.options;
    if (store.dialect !== 'postgres') return;
    const nowMs = clock.now().getTime();
    // Wholly older than the longest window: dropped whatever it holds.
    const lastAgedDay = dayOf(nowMs - retention.maxDays * DAY) - 1;
    // Wholly older than the shortest: dropped if it has aged for each environment in it.
    const lastMaybeAgedDay = dayOf(nowMs - retention.minDays * DAY) - 1;
    const partitions = await listPartitions(store.db);
    for (const partition of partitions) {
      if (this.closed) return;
      if (partition.day > lastMaybeAgedDay) continue;
      if (partition.day > lastAgedDay && !(await this.agedForEveryEnvironment(partition, nowMs))) continue;
      await dropPartition(store.db, partition.name, partition.attached);
      store.partitions?.forget(partition.day);
      this.heldUntil.delete(partition.name);
      this.stats.partitionsDropped++;
      await this.pause();
    }
    // Forget the days that are gone (dropped by another instance).
    const names = new Set(partitions.map((p) => p.name));
    for (const name of this.heldUntil.keys()) if (!names.has(name)) this.heldUntil.delete(name);
  }

  /**
   * Whether the whole day of a partition is outside the window of every
   * environment with events in it. An environment whose plan is not found
   * (deleted) holds the day: the longest window drops it.
   */
  private async agedForEveryEnvironment(partition: { name: string; day: number }, nowMs: number): Promise<boolean> {
    if ((this.heldUntil.get(partition.name) ?? 0) > nowMs) return false;
    const { store, retention } = this.options;
    const refs = await environmentsInPartition(store.db, partition.name);
    const plans =
      refs.length === 0
        ? []
        : await store.db
            .selectFrom('activity_refs')
            .innerJoin('environments', 'environments.id', 'activity_refs.ref')
            .innerJoin('accounts', 'accounts.id', 'environments.account_id')
            .select(['activity_refs.id as ref', 'accounts.plan'])
            .where('activity_refs.id', 'in', refs)
            .execute();
    const dayEnd = (partition.day + 1) * DAY;
    // The day has aged for an environment once its cutoff (a whole hour) reaches the day's end.
    let agedAt = Number.NEGATIVE_INFINITY;
    for (const { plan } of plans) agedAt = Math.max(agedAt, dayEnd + retention.days(plan) * DAY);
    if (plans.length < refs.length) agedAt = dayEnd + retention.maxDays * DAY;
    if (agedAt <= nowMs) return true;
    this.heldUntil.set(partition.name, agedAt);
    return false;
  }

  /**
   * Webhook events older than WEBHOOK_RETENTION_DAYS whose deliveries are
   * all finished (none PENDING), with their deliveries (cascade), in the same
   * bounded batches. Scheduled notices concern expiries at most a week old,
   * so a deleted notice is never due again.
   */
  private async deleteAgedWebhookEvents(): Promise<void> {
    const { store, clock } = this.options;
    const batchSize = this.options.batchSize ?? BATCH_SIZE;
    const cutoff = new Date(clock.now().getTime() - WEBHOOK_RETENTION_DAYS * DAY).toISOString();
    for (let deleted = batchSize; deleted === batchSize && !this.closed; ) {
      const aged = store.db
        .selectFrom('webhook_events')
        .select('id')
        .where('created_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('webhook_deliveries')
                .select('webhook_deliveries.id')
                .whereRef('webhook_deliveries.event_id', '=', 'webhook_events.id')
                .where('webhook_deliveries.status', '=', 'PENDING'),
            ),
          ),
        )
        .limit(batchSize);
      const result = await store.db.deleteFrom('webhook_events').where('id', 'in', aged).executeTakeFirst();
      deleted = Number(result.numDeletedRows);
      this.stats.webhookEventsDeleted += deleted;
      await this.pause();
    }
  }

  private async deleteAgedRows(): Promise<void> {
    const { store, retention, clock } = this.options;
    const batchSize = this.options.batchSize ?? BATCH_SIZE;
    for (let after = 0; !this.closed; ) {
      const environments = await environmentsWithActivity(store.db, after, 200);
      if (environments.length === 0) return;
      after = environments.at(-1)!.ref;
      const plans = await store.db
        .selectFrom('environments')
        .innerJoin('accounts', 'accounts.id', 'environments.account_id')
        .select(['environments.id', 'accounts.plan'])
        .where(
          'environments.id',
          'in',
          environments.map((e) => e.id),
        )
        .execute();
      const planOf = new Map(plans.map((p) => [p.id, p.plan]));
      for (const env of environments) {
        const plan = planOf.get(env.id);
        if (!plan) continue;
        const cutoff = retention.cutoffMs(plan, clock.now().getTime());
        for (let deleted = batchSize; deleted === batchSize && !this.closed; ) {
          deleted = await deleteAgedEvents(store.db, store.dialect, env.ref, cutoff, batchSize);
          this.stats.eventsDeleted += deleted;
          await this.pause();
        }
        for (let deleted = batchSize; deleted === batchSize && !this.closed; ) {
          deleted = await deleteAgedCounts(store.db, env.ref, cutoff, batchSize);
          this.stats.countsDeleted += deleted;
          await this.pause();
        }
      }
    }
  }
}

/** How long webhook events and their deliveries are kept once nothing is left to deliver. */
export const WEBHOOK_RETENTION_DAYS = 30;

/** The defaults of RetentionOptions.batchSize and pauseMs. */
const BATCH_SIZE = 250;
const PAUSE_MS = 2;
/** A WAL backlog (8 MB of pages) the pass waits on, and how long at most (see RetentionOptions.checkpointer). */
const BACKLOG_PAGES = 2048;
const BACKLOG_WAIT_MS = 1000;
