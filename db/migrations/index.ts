import type { Migration } from 'kysely';
import * as foundation from './2026-11-28T0900_foundation.js';
import * as resourcesAndActivity from './2026-11-28T1130_resources_and_activity.js';
import * as identityKeys from './2026-12-02T0900_identity_keys.js';
import * as apiKeyIndexes from './2026-12-02T1200_api_key_indexes.js';
import * as compactActivity from './2026-12-02T1300_compact_activity.js';
import * as webhooks from './2026-12-02T1500_webhooks.js';
import * as webhookSchedulerIndex from './2026-12-02T1600_webhook_scheduler_index.js';
import * as apiKeyCategoryIndex from './2026-12-03T0900_api_key_category_index.js';

/** Every migration, by its dated name; the migrator applies them in name order. */
export const migrations: Record<string, Migration> = {
  '2026-11-28T0900_foundation': foundation,
  '2026-11-28T1130_resources_and_activity': resourcesAndActivity,
  '2026-12-02T0900_identity_keys': identityKeys,
  '2026-12-02T1200_api_key_indexes': apiKeyIndexes,
  '2026-12-02T1300_compact_activity': compactActivity,
  '2026-12-02T1500_webhooks': webhooks,
  '2026-12-02T1600_webhook_scheduler_index': webhookSchedulerIndex,
  '2026-12-03T0900_api_key_category_index': apiKeyCategoryIndex,
};
