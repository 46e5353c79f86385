import type { Selectable } from 'kysely';
import type { ActorType } from './actor.js';

export const KEY_AUDIT_EVENT_TYPES = [
  'KEY_CREATED',
  'KEY_ROTATED',
  'SCOPE_UPDATED',
  'KEY_REVOKED',
  'KEY_REVEALED',
  'KEY_UPDATED',
  'GRACE_PERIOD_CHANGED',
] as const;
export type KeyAuditEventType = (typeof KEY_AUDIT_EVENT_TYPES)[number];

export interface KeyAuditEventTable {
  id: string;
  key_id: string;
  environment_id: string;
  event: KeyAuditEventType;
  actor_type: ActorType;
  actor_id: string | null;
  actor_name: string;
  /** JSON object as text; never contains key material. */
  details: string | null;
  created_at: string;
}

export type KeyAuditEventRow = Selectable<KeyAuditEventTable>;
