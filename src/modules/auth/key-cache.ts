import { sql, type Transaction } from 'kysely';
import { LRUCache } from 'lru-cache';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from '../../database/database.js';
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
  private listener: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: KeyCacheOptions,
    /** SQLite deployments are one process: local invalidation is complete. */
    private readonly shared: boolean,
  ) {
    this.entries = new LRUCache({ max: options.maxEntries, ttl: options.ttlMs, ttlAutopurge: false });
    this.listening = !shared;
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
  async announce(trx: Transaction<Database>, keyId: string): Promise<void> {
    if (this.shared) await sql`select pg_notify(${KEY_CHANGES_CHANNEL}, ${keyId})`.execute(trx);
  }

  /** Starts listening for other instances' changes (PostgreSQL only); reconnects by itself. */
  async listen(connect: () => Promise<pg.Client>): Promise<void> {
    if (!this.shared || this.closed) return;
    try {
      const client = await connect();
      client.on('notification', (message) => {
        if (message.channel === KEY_CHANGES_CHANNEL && message.payload) this.invalidate(message.payload);
      });
      client.on('error', (err) => this.lost(connect, err));
      client.on('end', () => this.lost(connect, new Error('LISTEN connection ended')));
      await client.query(`listen ${KEY_CHANGES_CHANNEL}`);
      this.listener = client;
      // Anything cached before we listened may have missed a notification.
      this.clear();
      this.listening = true;
    } catch (err) {
      this.lost(connect, err);
    }
  }

  private lost(connect: () => Promise<pg.Client>, err: unknown): void {
    if (this.closed || this.retry) return;
    this.listening = false;
    this.clear();
    this.listener?.removeAllListeners();
    this.listener?.end().catch(() => {});
    this.listener = null;
    this.options.logger.warn(
      { err },
      'key change notifications lost; verifying every key against the database until they are back',
    );
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.listen(connect);
    }, 1000);
    this.retry.unref?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.listener?.removeAllListeners();
    await this.listener?.end().catch(() => {});
    this.listener = null;
  }
}
