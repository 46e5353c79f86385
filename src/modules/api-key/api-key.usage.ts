import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import type { Clock } from '../../shared/clock.js';
import { MINUTE } from '../../shared/clock.js';
import { writeLastUsed } from './api-key.repository.js';

/**
 * Records `lastUsedAt` off the request path: requests only note the use in
 * memory; a timer writes the batch. A key is written at most once per
 * `resolutionMs`, so a busy key costs one UPDATE a minute, not one per request.
 */
export class KeyUsageRecorder {
  private readonly pending = new Map<string, string>();
  private readonly lastWritten = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly options: { resolutionMs?: number; flushEveryMs?: number; onError?: (error: unknown) => void } = {},
  ) {}

  /** Cheap and synchronous; safe to call on every request. */
  touch(keyId: string): void {
    const now = this.clock.now();
    const last = this.lastWritten.get(keyId);
    if (last !== undefined && now.getTime() - last < (this.options.resolutionMs ?? MINUTE)) return;
    this.lastWritten.set(keyId, now.getTime());
    this.pending.set(keyId, now.toISOString());
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushEveryMs ?? 1000);
    this.timer.unref?.();
  }

  /** Writes what is pending; awaited on shutdown and by tests. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = [...this.pending];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await writeLastUsed(this.db, batch);
      } catch (error) {
        this.options.onError?.(error);
      }
    });
    return this.flushing;
  }
}
