import type { DestinationStream } from 'pino';
import {
  type Config,
  DEFAULT_KEY_CACHE_MB,
  DEFAULT_KEY_CACHE_TTL_MS,
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
  parseLimits,
  parseRateLimit,
} from './config.js';
import { connectDatabase, type DatabaseHandle } from './database/connect.js';
import { migrateToLatest } from './database/migrator.js';
import { Notifications } from './database/notifications.js';
import type { Deps } from './deps.js';
import { ActivityRecorder } from './modules/activity/activity.recorder.js';
import { activityStoreOf } from './modules/activity/activity.repository.js';
import { ActivityRetention, type RetentionOptions, RetentionWorker } from './modules/activity/activity.retention.js';
import { KeyUsageRecorder } from './modules/api-key/api-key.usage.js';
import { KeyCache } from './modules/auth/key-cache.js';
import { SessionTokens } from './modules/auth/session.js';
import { Gateway } from './modules/gateway/gateway.js';
import { IdentityTokens, loadIdentityKey } from './modules/gateway/identity.js';
import { type DeliveryWorkerOptions, WebhookDeliveryWorker } from './modules/webhook/webhook.delivery.js';
import { ExpiryScheduler, type ExpirySchedulerOptions } from './modules/webhook/webhook.scheduler.js';
import { type BucketStore, MemoryBuckets, RateLimiter } from './plugins/rate-limit.js';
import { RedisBuckets } from './plugins/redis-buckets.js';
import { schema } from './schema.js';
import { type Clock, systemClock } from './shared/clock.js';
import { createLogger } from './shared/logger.js';
import { SecretBox } from './shared/secret-box.js';
import { createKeygateYoga, type KeygateYoga } from './yoga.js';

export interface KeygateOptions {
  config: Pick<Config, 'databaseUrl' | 'databasePoolSize' | 'masterKey' | 'sessionSecret' | 'logLevel'> &
    Partial<
      Pick<
        Config,
        | 'keyCacheTtlMs'
        | 'statementTimeoutMs'
        | 'sqliteReaders'
        | 'sqliteReadQueue'
        | 'keyCacheMb'
        | 'limits'
        | 'rateLimit'
        | 'metricsToken'
        | 'identityProvider'
        | 'redisUrl'
        | 'redisPrefix'
        | 'upstreamsFile'
        | 'identityKeyPem'
        | 'issuer'
        | 'dataDir'
        | 'production'
        | 'notices'
        | 'activityRetentionDays'
        | 'webhookAllowPrivate'
        | 'webhookRetryScheduleSeconds'
      >
    >;
  clock?: Clock;
  /** Where logs go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
  /** Apply pending migrations on start (default true). */
  migrate?: boolean;
  /** Record the activity log (default true); turned off only to measure what it costs. */
  activityLog?: boolean;
  /** The activity retention worker: off in tests that run passes themselves; its clock and pace. */
  retention?: { enabled?: boolean } & Partial<Pick<RetentionOptions, 'monotonic' | 'intervalMs' | 'batchSize'>>;
  /** The webhook expiry scheduler: off in tests that run passes themselves (`deps.webhooks.scheduler.run()`); its pace. */
  webhookScheduler?: { enabled?: boolean } & Partial<Pick<ExpirySchedulerOptions, 'intervalMs' | 'batchSize'>>;
  /**
   * The webhook delivery worker: polling off in tests that run polls themselves
   * (and in CLI commands other than serve); its bounds and pace.
   */
  webhookDelivery?: { enabled?: boolean } & Partial<
    Pick<
      DeliveryWorkerOptions,
      | 'instanceId'
      | 'signingClock'
      | 'timeoutMs'
      | 'pollIntervalMs'
      | 'maxInFlight'
      | 'maxPerEndpoint'
      | 'maxResponseBytes'
      | 'shutdownGraceMs'
    >
  >;
}

export interface Keygate {
  deps: Deps;
  yoga: KeygateYoga;
  /** Writes what background writers hold (key usage, activity), finishes or releases webhook attempts, and closes the database. */
  close(): Promise<void>;
}

/** The composition root: connects the database, builds the collaborators and the GraphQL handler. */
export async function createKeygate(options: KeygateOptions): Promise<Keygate> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = createLogger(config.logLevel, options.logDestination);
  const upstreamsFile = config.upstreamsFile ?? null;
  // Read before anything is opened: a missing production key fails the start with nothing to clean up.
  const identityKey = upstreamsFile
    ? loadIdentityKey({
        pem: config.identityKeyPem ?? null,
        dataDir: config.dataDir ?? 'data',
        production: config.production ?? false,
        notices: config.notices ?? [],
      })
    : null;
  const database: DatabaseHandle = await connectDatabase({
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.statementTimeoutMs,
    sqliteReaders: config.sqliteReaders,
    sqliteReadQueue: config.sqliteReadQueue,
    onPoolError: (err) => logger.warn({ err }, 'database connection lost; the pool will reconnect'),
  });
  if (options.migrate ?? true) await migrateToLatest(database.db);
  const keyUsage = new KeyUsageRecorder(database.db, database.dialect, clock, {
    onError: (err) => logger.warn({ err }, 'could not record key usage'),
  });
  const notifications = new Notifications(database.dedicatedClient, logger);
  const keyCache = new KeyCache(
    {
      ttlMs: config.keyCacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS,
      maxBytes: Math.floor((config.keyCacheMb ?? DEFAULT_KEY_CACHE_MB) * 1024 * 1024),
      logger,
    },
    notifications,
  );
  const identity = identityKey ? new IdentityTokens(identityKey, database.db, clock, config.issuer ?? 'keygate', logger) : null;
  const gateway = new Gateway({
    upstreamsFile,
    local: schema,
    identity,
    logger,
    db: database.db,
    notifications,
    // Grants are computed with the catalogue: a new one must not meet grants cached under the old.
    onCatalogueChange: () => keyCache.clear(),
  });
  const activityStore = activityStoreOf(database.db, database.dialect);
  const retention = new ActivityRetention(config.activityRetentionDays ?? null);
  const retentionWorker = new RetentionWorker({
    store: activityStore,
    retention,
    clock,
    logger,
    checkpointer: database.checkpointer ?? null,
    ...options.retention,
  });
  const expiryScheduler = new ExpiryScheduler({
    db: database.db,
    clock,
    logger,
    flushKeyUsage: () => keyUsage.flush(),
    ...options.webhookScheduler,
  });
  const secretBox = new SecretBox(config.masterKey);
  const { enabled: deliveryEnabled = true, ...deliveryOptions } = options.webhookDelivery ?? {};
  const webhookDelivery = new WebhookDeliveryWorker({
    db: database.db,
    dialect: database.dialect,
    secretBox,
    clock,
    logger,
    policy: { allowPrivate: config.webhookAllowPrivate ?? false },
    retryScheduleSeconds: config.webhookRetryScheduleSeconds ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
    ...deliveryOptions,
  });
  const deps: Deps = {
    db: database.db,
    database,
    reads: database.reads,
    clock,
    secretBox,
    sessions: new SessionTokens(config.sessionSecret, clock, config.identityProvider ?? null),
    keyUsage,
    keyCache,
    notifications,
    activity: new ActivityRecorder(activityStore, { logger }),
    activityLog: { store: activityStore, retention, worker: retentionWorker },
    logger,
    gateway,
    webhooks: {
      allowPrivate: config.webhookAllowPrivate ?? false,
      retryScheduleSeconds: config.webhookRetryScheduleSeconds ?? DEFAULT_WEBHOOK_RETRY_SCHEDULE_SECONDS,
      scheduler: expiryScheduler,
    },
    webhookDelivery,
  };
  try {
    await identity?.start();
    await gateway.start();
  } catch (error) {
    gateway.close();
    identity?.close();
    await database.close();
    throw error;
  }
  await notifications.start();
  if (options.retention?.enabled ?? true) retentionWorker.start();
  if (options.webhookScheduler?.enabled ?? true) expiryScheduler.start();
  if (deliveryEnabled) webhookDelivery.start();
  // Rate-limit buckets: shared through Redis when configured, else this instance's memory.
  let buckets: BucketStore = new MemoryBuckets();
  if (config.redisUrl) {
    buckets = await RedisBuckets.connect({ url: config.redisUrl, prefix: config.redisPrefix ?? 'keygate:', logger });
  }
  const yoga = createKeygateYoga(deps, {
    activityLog: options.activityLog ?? true,
    limits: config.limits ?? parseLimits(),
    rateLimiter: new RateLimiter(config.rateLimit ?? parseRateLimit(), buckets),
    metricsToken: config.metricsToken ?? null,
  });
  return {
    deps,
    yoga,
    async close() {
      gateway.close();
      identity?.close();
      // Before the database closes: attempts in flight finish or are released for another instance.
      await Promise.all([retentionWorker.close(), expiryScheduler.close(), webhookDelivery.close()]);
      await Promise.all([keyUsage.flush(), deps.activity.close(), notifications.close(), buckets.close?.()]);
      await database.close();
    },
  };
}
