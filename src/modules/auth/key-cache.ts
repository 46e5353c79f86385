import type { Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Database } from '../../database/database.js';
import type { Notifications } from '../../database/notifications.js';
import type { Principal } from './principal.js';

export const KEY_CHANGES_CHANNEL = 'keygate_key_changes';

export interface KeyCacheOptions {
  /** How long a verified key is trusted without reading the database again (the safety net). */
  ttlMs: number;
  maxEntries: number;
  logger: Logger;
}

/**
 * Verified API keys by digest, so a known key costs no database read per
 * request. Expiry is still checked on every request (status follows the
 * clock). Every change to a key (revoke, rotate, re-scope, disconnect)
 * invalidates it: at once on this instance, and on every other instance
 * through PostgreSQL LISTEN/NOTIFY sent in the changing transaction. While
 * the LISTEN connection is down the cache is bypassed, so the cross-instance
 * bound holds; the TTL bounds anything else.
 */
export class KeyCache {
  private readonly entries: LRUCache<string, Principal>;
  /** Bumped by every invalidation: a lookup that raced with one must not be cached. */
  private epoch = 0;
  private listening: boolean;

  constructor(
    private readonly options: KeyCacheOptions,
    /** Other instances' key changes; on SQLite (one process) local invalidation is complete. */
    private readonly notifications: Notifications,
  ) {
    this.entries = new LRUCache({ max: options.maxEntries, ttl: options.ttlMs, ttlAutopurge: false });
    this.listening = !notifications.shared;
    notifications.subscribe(KEY_CHANGES_CHANNEL, {
      message: (keyId) => this.invalidate(keyId),
      // Anything cached while nothing was heard may be stale: verify every key until notifications are back.
      lost: () => {
        this.listening = false;
        this.clear();
        options.logger.warn('key change notifications lost; verifying every key against the database until they are back');
      },
      restored: () => {
        this.clear();
        this.listening = true;
      },
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** The start of a lookup; pass the result to `set`. */
  begin(): number {
    return this.epoch;
  }

  get(digest: string): Principal | undefined {
    return this.listening ? this.entries.get(digest) : undefined;
  }

  set(digest: string, principal: Principal, startedAt: number): void {
    if (this.listening && startedAt === this.epoch && this.options.ttlMs > 0) this.entries.set(digest, principal);
  }

  /** Forgets a key on this instance (after its change committed). */
  invalidate(keyId: string): void {
    this.epoch++;
    for (const [digest, principal] of this.entries.entries()) {
      if (principal.kind === 'API_KEY' && principal.key.id === keyId) this.entries.delete(digest);
    }
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
  }

  /** Tells every instance, when `trx` commits, that a key changed (PostgreSQL); a no-op on SQLite. */
  announce(trx: Transaction<Database>, keyId: string): Promise<void> {
    return this.notifications.notify(trx, KEY_CHANGES_CHANNEL, keyId);
  }
}
