/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Takes one token, or says how many seconds until one is available. */
  take(now: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / this.rate)) };
  }

  /** Like take() without taking: null when a token is available, else seconds to wait. */
  peek(now: number): number | null {
    const tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.rate);
    return tokens >= 1 ? null : Math.max(1, Math.ceil((1 - tokens) / this.rate));
  }
}

export interface RateLimitConfig {
  /** Requests per second per API key; 0 turns key limits off. Bursts up to twice the rate. */
  perKey: number;
  /** Per-key overrides by key id (0 = unlimited for that key). */
  overrides: ReadonlyMap<string, number>;
  /** Failed authentications per minute per client address before it is refused (brute force). */
  failedAuthPerMinute: number;
  /**
   * Count loopback addresses too (default false). A proxy or sidecar on the
   * same host makes every client look like 127.0.0.1, so one client's
   * failures would lock everyone out; limit at the proxy instead.
   */
  limitLoopback?: boolean;
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

/** Where buckets live: this process (the default), or Redis shared by every instance. */
export interface BucketStore {
  /** Takes a token from bucket `id` (created full), or says how long to wait. */
  take(id: string, rate: number, burst: number): Take | Promise<Take>;
  /** null when a token is available, else seconds to wait; takes nothing. */
  peek(id: string, rate: number, burst: number): number | null | Promise<number | null>;
  close?(): Promise<void>;
}

/** Buckets in this process's memory; old ones are dropped so memory stays bounded. */
export class MemoryBuckets implements BucketStore {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(private readonly now: () => number = Date.now) {}

  take(id: string, rate: number, burst: number): Take {
    return this.bucket(id, rate, burst).take(this.now());
  }

  /** A bucket never taken from is full: only existing buckets can say wait. */
  peek(id: string): number | null {
    return this.buckets.get(id)?.peek(this.now()) ?? null;
  }

  private bucket(id: string, rate: number, burst: number): TokenBucket {
    let bucket = this.buckets.get(id);
    if (!bucket) {
      if (this.buckets.size >= 200_000) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = new TokenBucket(rate, burst, this.now());
      this.buckets.set(id, bucket);
    }
    return bucket;
  }
}

/**
 * The per-key limit and the failed-authentication limit per client address
 * (README "Limits"), over a bucket store: in memory by default (each
 * instance counts alone), or shared through Redis (KEYGATE_REDIS_URL).
 */
export class RateLimiter {
  constructor(
    private readonly config: RateLimitConfig,
    private readonly store: BucketStore = new MemoryBuckets(),
  ) {}

  /** One request by an API key. */
  async takeForKey(keyId: string): Promise<Take> {
    const rate = this.config.overrides.get(keyId) ?? this.config.perKey;
    if (rate <= 0) return { ok: true };
    return this.store.take(`key:${keyId}`, rate, rate * 2);
  }

  /** Whether this address is currently refused for too many failed authentications (without counting). */
  async blockedAddress(address: string): Promise<number | null> {
    const perMinute = this.config.failedAuthPerMinute;
    if (perMinute <= 0 || this.exempt(address)) return null;
    return this.store.peek(`addr:${address}`, perMinute / 60, perMinute);
  }

  private exempt(address: string): boolean {
    return !this.config.limitLoopback && LOOPBACK.test(address);
  }

  /** Counts a failed authentication from an address. */
  async failedAuthentication(address: string): Promise<void> {
    const perMinute = this.config.failedAuthPerMinute;
    if (perMinute <= 0 || this.exempt(address)) return;
    await this.store.take(`addr:${address}`, perMinute / 60, perMinute);
  }
}
