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
  /** The memory the cached keys may take (see `estimateEntryBytes`); the least recently used go first. */
  maxBytes: number;
  logger: Logger;
}

/**
 * What one cached key takes besides its scope, with short texts: the key's
 * row (without its ciphertext), its actor, the digest it is found by, and the
 * cache's and the id index's bookkeeping. Measured with V8 (heap used with
 * and without 5,000 cached keys, after a forced collection).
 */
const ENTRY_BASE_BYTES = 740;
/** What a scope and its grants take besides their names: a set, an array, their slots. */
const SCOPE_BASE_BYTES = 140;

/**
 * An upper bound of what one cached key takes, its scope apart: the base,
 * plus its name and description at two bytes a character (V8 keeps ASCII in
 * one).
 */
export function estimateEntryBytes(principal: ApiKeyPrincipal): number {
  return ENTRY_BASE_BYTES + 2 * (principal.key.name.length + (principal.key.description?.length ?? 0));
}

/** An upper bound of what a scope and its grants take; keys that share them (see principalForKey) share this too. */
export function estimateScopeBytes(principal: ApiKeyPrincipal): number {
  let bytes = SCOPE_BASE_BYTES;
  for (const scope of principal.key.scopes ?? []) bytes += 24 + scope.length;
  for (const grant of principal.grants) bytes += 40 + grant.length;
  return bytes;
}

/**
 * Verified API keys by digest, so a known key costs no database read per
 * request. Expiry is still checked on every request (status follows the
 * clock). Every change to a key (revoke, rotate, re-scope, disconnect)
 * invalidates it: at once on this instance, and on every other instance
 * through PostgreSQL LISTEN/NOTIFY sent in the changing transaction. While
 * the LISTEN connection is down the cache is bypassed, and it starts empty
 * when the connection is back (what was sent meanwhile is lost), so the
 * cross-instance bound holds; the TTL bounds anything else.
 *
 * The cache is bounded by memory, not by a count of keys: each key counts
 * its estimate, and each distinct scope (one copy shared by the keys that
 * hold it) counts once while any cached key holds it; beyond the budget the
 * least recently used keys go. Long names or many distinct scopes make it
 * hold fewer keys, never more memory.
 */
export class KeyCache {
  private readonly entries: LRUCache<string, ApiKeyPrincipal>;
  /** Digest of each cached key by key id, so forgetting a key touches that key alone. */
  private readonly digestOf = new Map<string, string>();
  /** Each distinct scope held by cached keys (by its grants, the shared object): its holders and its estimate. */
  private readonly scopes = new Map<ApiKeyPrincipal['grants'], { holders: number; bytes: number }>();
  private scopeBytes = 0;
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
      // Every way out of the cache (evicted, expired, replaced, deleted) leaves the index and the scope tally too.
      dispose: (principal, digest) => {
        if (this.digestOf.get(principal.key.id) === digest) this.digestOf.delete(principal.key.id);
        this.release(principal);
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

  /** The estimated memory the cached keys and their scopes take; never more than `maxBytes`. */
  get bytes(): number {
    return this.entries.calculatedSize + this.scopeBytes;
  }

  /** Distinct scopes the cached keys hold (one copy each). */
  get distinctScopes(): number {
    return this.scopes.size;
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
    if (this.entries.peek(digest, { allowStale: true }) === principal) return;
    this.entries.set(digest, principal);
    // An entry larger than the whole budget is refused by the cache; index and count only what it holds.
    if (!this.entries.has(digest)) return;
    this.digestOf.set(principal.key.id, digest);
    this.hold(principal);
    // Keys and their scopes share one budget: the least recently used keys go until both fit.
    while (this.entries.size > 0 && this.bytes > this.options.maxBytes) this.entries.pop();
  }

  private hold(principal: ApiKeyPrincipal): void {
    const scope = this.scopes.get(principal.grants);
    if (scope) {
      scope.holders++;
      return;
    }
    const bytes = estimateScopeBytes(principal);
    this.scopes.set(principal.grants, { holders: 1, bytes });
    this.scopeBytes += bytes;
  }

  private release(principal: ApiKeyPrincipal): void {
    const scope = this.scopes.get(principal.grants);
    if (!scope || --scope.holders > 0) return;
    this.scopes.delete(principal.grants);
    this.scopeBytes -= scope.bytes;
  }

  /** Forgets a key on this instance (after its change committed); constant time, whatever the cache holds. */
  invalidate(keyId: string): void {
    this.epoch++;
    const digest = this.digestOf.get(keyId);
    if (digest !== undefined) this.entries.delete(digest);
  }

  clear(): void {
    this.epoch++;
    // Disposes every entry, which empties the index and the scope tally with it.
    this.entries.clear();
  }

  /** Tells every instance, when `trx` commits, that a key changed (PostgreSQL); a no-op on SQLite. */
  announce(trx: Transaction<Database>, keyId: string): Promise<void> {
    return this.notifications.notify(trx, KEY_CHANGES_CHANNEL, keyId);
  }
}
