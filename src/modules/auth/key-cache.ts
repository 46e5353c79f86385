import type { Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Database } from '../../database/database.js';
import type { Notifications } from '../../database/notifications.js';
import type { ApiKeyPrincipal } from './principal.js';

export const KEY_CHANGES_CHANNEL = 'keygate_key_changes';

export interface KeyCacheOptions {
  /** How long a verified key is trusted without reading the database again (a safety net: changes invalidate at once). */
  ttlMs: number;
  /** The memory the cached keys may take, by `estimateEntryBytes`; the least recently used go first. */
  maxBytes: number;
  logger: Logger;
}

/**
 * The heap one cached key takes with short texts: the principal (the key's
 * row, its grants, its actor), the digest it is found by, and the cache's and
 * the index's bookkeeping. Measured with V8 heap snapshots of cached scoped
 * keys (bench/keys.ts prints the estimate beside the heap it measures).
 */
const ENTRY_BASE_BYTES = 1100;

/**
 * What an entry costs: the base plus the texts whose length the caller
 * chooses (name, description, scope). V8 keeps ASCII text one byte per
 * character; two are counted, for text that is not.
 */
export function estimateEntryBytes(principal: ApiKeyPrincipal): number {
  const { key } = principal;
  let text = key.name.length + (key.description?.length ?? 0);
  for (const scope of key.scopes ?? []) text += scope.length;
  for (const grant of principal.grants) text += grant.length;
  return ENTRY_BASE_BYTES + 2 * text;
}

/**
 * Verified API keys by digest, so a known key costs no database read per
 * request. Expiry is still checked on every request (status follows the
 * clock). Every change to a key (revoke, rotate, re-scope, disconnect)
 * invalidates it: at once on this instance, and on every other instance
 * through PostgreSQL LISTEN/NOTIFY sent in the changing transaction. While
 * the LISTEN connection is down the cache is bypassed, and it starts empty
 * when the connection is back (what was sent meanwhile is lost), so the
 * cross-instance bound holds; the TTL bounds anything else. The cache is
 * bounded by memory, not by a count of keys, so keys with long names or
 * scopes cannot make it outgrow its budget.
 */
export class KeyCache {
  private readonly entries: LRUCache<string, ApiKeyPrincipal>;
  /** Digest of each cached key by key id, so forgetting a key touches that key alone. */
  private readonly digestOf = new Map<string, string>();
  /** Bumped by every invalidation: a lookup that raced with one must not be cached. */
  private epoch = 0;
  private listening: boolean;
  /** Lookups answered from the cache, and those that had to read the database (for /metrics). */
  hits = 0;
  misses = 0;

  constructor(
    private readonly options: KeyCacheOptions,
    /** Other instances' key changes; on SQLite (one process) local invalidation is complete. */
    private readonly notifications: Notifications,
  ) {
    this.entries = new LRUCache({
      maxSize: Math.max(1, options.maxBytes),
      sizeCalculation: estimateEntryBytes,
      ttl: Math.max(1, options.ttlMs),
      // Expired entries are dropped when read or pushed out by the size bound; no timers.
      ttlAutopurge: false,
      // Every way out of the cache (evicted, expired, replaced, deleted) leaves the index too.
      dispose: (principal, digest) => {
        if (this.digestOf.get(principal.key.id) === digest) this.digestOf.delete(principal.key.id);
      },
    });
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

  /** Keys in the id index: always `size` (nothing outlives its entry). */
  get indexed(): number {
    return this.digestOf.size;
  }

  /** The estimated memory the cached keys take (see `estimateEntryBytes`). */
  get bytes(): number {
    return this.entries.calculatedSize;
  }

  /** The start of a lookup; pass the result to `set`. */
  begin(): number {
    return this.epoch;
  }

  get(digest: string): ApiKeyPrincipal | undefined {
    const principal = this.listening ? this.entries.get(digest) : undefined;
    if (principal) this.hits++;
    else this.misses++;
    return principal;
  }

  set(digest: string, principal: ApiKeyPrincipal, startedAt: number): void {
    if (!this.listening || startedAt !== this.epoch || this.options.ttlMs <= 0 || this.options.maxBytes <= 0) return;
    this.entries.set(digest, principal);
    // An entry larger than the whole budget is refused by the cache; index only what it holds.
    if (this.entries.has(digest)) this.digestOf.set(principal.key.id, digest);
  }

  /** Forgets a key on this instance (after its change committed); constant time, whatever the cache holds. */
  invalidate(keyId: string): void {
    this.epoch++;
    const digest = this.digestOf.get(keyId);
    if (digest !== undefined) this.entries.delete(digest);
  }

  clear(): void {
    this.epoch++;
    this.entries.clear();
    this.digestOf.clear();
  }

  /** Tells every instance, when `trx` commits, that a key changed (PostgreSQL); a no-op on SQLite. */
  announce(trx: Transaction<Database>, keyId: string): Promise<void> {
    return this.notifications.notify(trx, KEY_CHANGES_CHANNEL, keyId);
  }
}
