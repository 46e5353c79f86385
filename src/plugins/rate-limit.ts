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
}

/**
 * In-memory (per instance) limits: a bucket per API key, and a bucket of
 * failed authentications per client address. Old buckets are dropped so
 * memory stays bounded.
 */
export class RateLimiter {
  private readonly keys = new Map<string, TokenBucket>();
  private readonly failures = new Map<string, TokenBucket>();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** One request by an API key. */
  takeForKey(keyId: string) {
    const rate = this.config.overrides.get(keyId) ?? this.config.perKey;
    if (rate <= 0) return { ok: true as const };
    return this.bucket(this.keys, keyId, rate, rate * 2).take(this.now());
  }

  /** Whether this address is currently refused for too many failed authentications (without counting). */
  blockedAddress(address: string): number | null {
    const bucket = this.failures.get(address);
    if (!bucket || this.config.failedAuthPerMinute <= 0) return null;
    return bucket.peek(this.now());
  }

  /** Counts a failed authentication from an address. */
  failedAuthentication(address: string): void {
    const perMinute = this.config.failedAuthPerMinute;
    if (perMinute <= 0) return;
    this.bucket(this.failures, address, perMinute / 60, perMinute).take(this.now());
  }

  private bucket(map: Map<string, TokenBucket>, id: string, rate: number, burst: number): TokenBucket {
    let bucket = map.get(id);
    if (!bucket) {
      if (map.size >= 100_000) map.delete(map.keys().next().value!);
      bucket = new TokenBucket(rate, burst, this.now());
      map.set(id, bucket);
    }
    return bucket;
  }
}
