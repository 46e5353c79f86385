import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type BucketStore, MemoryBuckets, type Take } from './rate-limit.js';

/**
 * The token bucket of TokenBucket, run atomically inside Redis so every
 * instance draws from the same bucket. Time is Redis's own clock (no skew
 * between instances); an idle bucket expires once it would be full again.
 * KEYS[1] bucket; ARGV: rate (tokens/s), burst, take (1) or peek (0).
 * Returns {1, 0} when a token is (or was) available, else {0, ms to wait}.
 */
const TOKEN_BUCKET = `
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local available = tokens >= 1
if ARGV[3] == '1' then
  if available then tokens = tokens - 1 end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
end
if available then return {1, 0} end
return {0, math.ceil((1 - tokens) / rate * 1000)}
`;

type BucketCommand = (key: string, rate: number, burst: number, take: 0 | 1) => Promise<[number, number]>;

export interface RedisBucketsOptions {
  url: string;
  /** Prepended to every Redis key (several deployments, or test runs, can share one Redis). */
  prefix: string;
  logger: Logger;
}

/**
 * Buckets shared by every instance through Redis. Redis is a helper, never a
 * point of failure: while it cannot answer (down, or slower than 250 ms),
 * each instance falls back to its own in-memory buckets and says so once.
 */
export class RedisBuckets implements BucketStore {
  private readonly fallback = new MemoryBuckets();
  private degraded = false;

  /**
   * Connects, or starts without Redis after a second (see started()). ioredis
   * is loaded here, on first use: an instance without Redis never loads it.
   */
  static async connect(options: RedisBucketsOptions): Promise<RedisBuckets> {
    const { Redis } = await import('ioredis');
    const redis = new Redis(options.url, {
      keyPrefix: options.prefix,
      commandTimeout: 250,
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // Keep trying in the background; requests meanwhile use the fallback.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    const buckets = new RedisBuckets(redis, options);
    await buckets.started();
    return buckets;
  }

  private constructor(
    private readonly redis: Redis,
    private readonly options: RedisBucketsOptions,
  ) {
    this.redis.on('error', () => this.degrade());
    this.redis.on('ready', () => {
      if (this.degraded) options.logger.info('rate limits shared through Redis again');
      this.degraded = false;
    });
    this.redis.defineCommand('keygateTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET });
  }

  /** Resolves once connected, or after a second without Redis (start serving anyway, per instance). */
  private started(): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.degrade();
        done();
      }, 1000);
      this.redis.once('ready', done);
    });
  }

  private degrade(): void {
    if (!this.degraded) this.options.logger.warn('Redis unavailable: rate limits are per instance until it is back');
    this.degraded = true;
  }

  private async run(id: string, rate: number, burst: number, take: 0 | 1): Promise<Take | null> {
    try {
      const [ok, waitMs] = await (this.redis as unknown as { keygateTokenBucket: BucketCommand }).keygateTokenBucket(
        `rl:${id}`,
        rate,
        burst,
        take,
      );
      return ok === 1 ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    } catch {
      this.degrade();
      return null;
    }
  }

  async take(id: string, rate: number, burst: number): Promise<Take> {
    return (await this.run(id, rate, burst, 1)) ?? this.fallback.take(id, rate, burst);
  }

  async peek(id: string, rate: number, burst: number): Promise<number | null> {
    const result = await this.run(id, rate, burst, 0);
    if (!result) return this.fallback.peek(id);
    return result.ok ? null : result.retryAfterSeconds;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
