import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Dialect } from '../../database/connect.js';
import type { Database } from '../../database/database.js';
import type { Clock } from '../../shared/clock.js';
import { MINUTE } from '../../shared/clock.js';
import { writeLastUsed } from './api-key.repository.js';

export interface KeyUsageOptions {
  /** A key is written at most once per this long (default a minute). */
  resolutionMs?: number;
  /** How long after the first waiting use the batch is written (default a second). */
  flushEveryMs?: number;
  /**
   * Keys whose last write is remembered (default 100,000): the least recently
   * written are forgotten beyond it, and at worst written again early.
   */
  maxRemembered?: number;
  /** A batch this large is written at once rather than on the timer (default 10,000). */
  maxPending?: number;
  onError?: (error: unknown) => void;
}

/**
 * Records `lastUsedAt` off the request path: requests only note the use in
 * memory; a timer writes the batch in one statement (per thousand keys). A
 * key is written at most once per `resolutionMs`, so a busy key costs one
 * write a minute, not one per request. Both maps are bounded, however many
 * distinct keys are in use.
 */
export class KeyUsageRecorder {
  private readonly pending = new Map<string, string>();
  /** When each recently used key was last noted for writing (epoch ms). */
  private readonly lastWritten: LRUCache<string, number>;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly clock: Clock,
    private readonly options: KeyUsageOptions = {},
  ) {
    this.lastWritten = new LRUCache({ max: options.maxRemembered ?? 100_000 });
  }

  /** How many keys' last writes are remembered (bounded by `maxRemembered`). */
  get remembered(): number {
    return this.lastWritten.size;
  }

  /** Cheap and synchronous; safe to call on every request. */
  touch(keyId: string): void {
    const now = this.clock.now();
    const last = this.lastWritten.get(keyId);
    if (last !== undefined && now.getTime() - last < (this.options.resolutionMs ?? MINUTE)) return;
    this.lastWritten.set(keyId, now.getTime());
    this.pending.set(keyId, now.toISOString());
    if (this.pending.size >= (this.options.maxPending ?? 10_000)) {
      void this.flush();
      return;
    }
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
        await writeLastUsed(this.db, this.dialect, batch);
      } catch (error) {
        this.options.onError?.(error);
      }
    });
    return this.flushing;
  }
}
