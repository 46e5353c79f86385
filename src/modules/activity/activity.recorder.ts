import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../../database/errors.js';
import { type ActivityStore, writeActivityEvents } from './activity.repository.js';
import type { ActivityEvent } from './activity.table.js';

export interface ActivityRecorderOptions {
  /** Write when this many events are waiting (default 200). */
  batchSize?: number;
  /** Otherwise write this long after the first waiting event (default 200 ms). */
  flushAfterMs?: number;
  /** Events kept while the database is unreachable; the oldest are dropped (and counted) beyond it. */
  maxQueued?: number;
  logger: Logger;
}

/**
 * The activity log's writer: requests append in memory (no I/O on the request
 * path); each batch goes to the database in one transaction, with its
 * counters. A failed batch is kept and retried while the database is
 * unreachable; ids are fixed up front, so retries never duplicate (nor count
 * twice). An event the database refuses outright is logged and dropped, so
 * it cannot hold back the rest.
 * `close()` writes everything still waiting (graceful shutdown).
 */
export class ActivityRecorder {
  private queue: ActivityEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private failures = 0;
  /** Events dropped because the queue overflowed while the database was unreachable. */
  dropped = 0;
  /** Events the database refused on their own (not for being unreachable): logged and dropped, never retried forever. */
  refused = 0;

  constructor(
    private readonly store: ActivityStore,
    private readonly options: ActivityRecorderOptions,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  record(events: readonly ActivityEvent[]): void {
    if (events.length === 0) return;
    this.queue.push(...events);
    const overflow = this.queue.length - (this.options.maxQueued ?? 100_000);
    if (overflow > 0) {
      this.queue.splice(0, overflow);
      this.dropped += overflow;
      this.options.logger.error({ dropped: overflow }, 'activity queue full: dropped the oldest events');
    }
    if (this.queue.length >= (this.options.batchSize ?? 200)) void this.flush();
    else this.schedule(this.options.flushAfterMs ?? 200);
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
    this.timer.unref?.();
  }

  /** Writes everything waiting now; resolves when it is in the database (or failed and re-queued). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.writing = this.writing.then(() => this.writeWaiting());
    return this.writing;
  }

  private async writeWaiting(): Promise<void> {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    try {
      await writeActivityEvents(this.store, batch);
      this.failures = 0;
    } catch (err) {
      if (isDatabaseUnavailable(err)) return this.retryLater(batch, err);
      // The database refused the batch itself: find the events it refuses, so one bad event cannot stall the log.
      await this.writeOneByOne(batch);
    }
  }

  private retryLater(events: ActivityEvent[], err: unknown): void {
    this.queue = events.concat(this.queue);
    this.failures++;
    this.options.logger.warn({ err, waiting: this.queue.length }, 'could not write activity events; will retry');
    this.schedule(Math.min(30_000, 250 * 2 ** Math.min(this.failures, 7)));
  }

  private async writeOneByOne(batch: ActivityEvent[]): Promise<void> {
    for (const [i, event] of batch.entries()) {
      try {
        await writeActivityEvents(this.store, [event]);
      } catch (err) {
        if (isDatabaseUnavailable(err)) return this.retryLater(batch.slice(i), err);
        this.refused++;
        this.options.logger.error(
          { err, field: event.field, requestId: event.requestId },
          'the database refused an activity event; it is dropped',
        );
      }
    }
    this.failures = 0;
  }

  /** Graceful shutdown: keep writing until nothing waits (bounded attempts). */
  async close(): Promise<void> {
    // A batch already on its way must land before the database is closed behind it.
    await this.writing;
    for (let attempt = 0; attempt < 5 && (this.queue.length > 0 || this.timer); attempt++) await this.flush();
    if (this.queue.length)
      this.options.logger.error({ lost: this.queue.length }, 'activity events could not be written at shutdown');
  }
}
