import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DatabaseHandle } from '../database/connect.js';
import type { ActivityRecorder } from '../modules/activity/activity.recorder.js';
import type { KeyCache } from '../modules/auth/key-cache.js';

/** Prometheus metrics of one Keygate instance (its own registry, so instances and tests never collide). */
export function createMetrics(activity: ActivityRecorder, database: Pick<DatabaseHandle, 'stats'>, keyCache: KeyCache) {
  const registry = new Registry();
  return {
    registry,
    operations: new Counter({
      name: 'keygate_operations_total',
      help: 'Root fields executed, by operation (root field) and outcome (SUCCESS, DENIED, ERROR).',
      labelNames: ['operation', 'outcome'] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'keygate_http_request_duration_seconds',
      help: 'HTTP request latency of the GraphQL endpoint, by status code.',
      labelNames: ['status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    authenticationFailures: new Counter({
      name: 'keygate_authentication_failures_total',
      help: 'Requests refused for a missing or invalid credential.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'keygate_rate_limited_total',
      help: 'Requests refused with 429, by limit (api_key, failed_auth_address).',
      labelNames: ['limit'] as const,
      registers: [registry],
    }),
    activityQueue: new Gauge({
      name: 'keygate_activity_queue_depth',
      help: 'Activity events waiting to be written.',
      registers: [registry],
      collect() {
        this.set(activity.depth);
      },
    }),
    databaseStatements: new Counter({
      name: 'keygate_database_statements_total',
      help: 'SQL statements sent to the database (requests with a cached key send none).',
      registers: [registry],
      // Read from the count the database handle keeps anyway: nothing is added to the query path.
      collect() {
        this.reset();
        this.inc(database.stats.statements);
      },
    }),
    // What sizing KEYGATE_KEY_CACHE_MB needs: how full the cache is, and how often a key had to be read.
    keyCacheKeys: new Gauge({
      name: 'keygate_key_cache_keys',
      help: 'Verified API keys held in this instance’s cache.',
      registers: [registry],
      collect() {
        this.set(keyCache.size);
      },
    }),
    keyCacheBytes: new Gauge({
      name: 'keygate_key_cache_bytes',
      help: 'Estimated memory the cached keys take (bounded by KEYGATE_KEY_CACHE_MB).',
      registers: [registry],
      collect() {
        this.set(keyCache.bytes);
      },
    }),
    keyCacheLookups: new Counter({
      name: 'keygate_key_cache_lookups_total',
      help: 'API key verifications, by result: hit (from the cache) or miss (read from the database).',
      labelNames: ['result'] as const,
      registers: [registry],
      collect() {
        // The cache counts; the counter shows its totals (they only grow).
        this.reset();
        this.inc({ result: 'hit' }, keyCache.hits);
        this.inc({ result: 'miss' }, keyCache.misses);
      },
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
