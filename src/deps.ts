import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DatabaseHandle } from './database/connect.js';
import type { Database } from './database/database.js';
import type { Notifications } from './database/notifications.js';
import type { Reads } from './database/reader.js';
import type { ActivityRecorder } from './modules/activity/activity.recorder.js';
import type { ActivityStore } from './modules/activity/activity.repository.js';
import type { ActivityRetention, RetentionWorker } from './modules/activity/activity.retention.js';
import type { KeyUsageRecorder } from './modules/api-key/api-key.usage.js';
import type { KeyCache } from './modules/auth/key-cache.js';
import type { SessionTokens } from './modules/auth/session.js';
import type { Gateway } from './modules/gateway/gateway.js';
import type { WebhookDeliveryWorker } from './modules/webhook/webhook.delivery.js';
import type { ExpiryScheduler } from './modules/webhook/webhook.scheduler.js';
import type { Clock } from './shared/clock.js';
import type { SecretBox } from './shared/secret-box.js';

/** Long-lived collaborators shared by every request; built once in app.ts. */
export interface Deps {
  db: Kysely<Database>;
  database: DatabaseHandle;
  /** Heavy list and count reads, off the event loop on SQLite (database/reader.ts). */
  reads: Reads;
  clock: Clock;
  secretBox: SecretBox;
  sessions: SessionTokens;
  keyUsage: KeyUsageRecorder;
  keyCache: KeyCache;
  /** Cross-instance messages over PostgreSQL LISTEN/NOTIFY (key changes, reloads); silent on SQLite. */
  notifications: Notifications;
  activity: ActivityRecorder;
  /** Where the activity log is stored and how long it is kept (reads and the retention worker). */
  activityLog: { store: ActivityStore; retention: ActivityRetention; worker: RetentionWorker };
  logger: Logger;
  /** The served schema and permission catalogue, with the upstreams behind Keygate (SPEC §9). */
  gateway: Gateway;
  /** Webhooks (SPEC §10): the address policy, the retry schedule, and the expiry notices' scheduler. */
  webhooks: WebhookDeps;
  /** Delivers the webhook outbox; `wake()` after a commit that added deliveries sends them without waiting for the next poll. */
  webhookDelivery: WebhookDeliveryWorker;
}

export interface WebhookDeps {
  /** KEYGATE_WEBHOOK_ALLOW_PRIVATE: http:// and private addresses allowed (development and tests). */
  allowPrivate: boolean;
  /** KEYGATE_WEBHOOK_RETRY_SCHEDULE: seconds before each retry of a failed delivery. */
  retryScheduleSeconds: readonly number[];
  scheduler: ExpiryScheduler;
}
