import type { Generated } from 'kysely';
import type { Actor, ActorType } from '../audit/actor.js';

export const ACTIVITY_OUTCOMES = ['SUCCESS', 'DENIED', 'ERROR'] as const;
export type ActivityOutcome = (typeof ACTIVITY_OUTCOMES)[number];

export const OPERATION_TYPES = ['query', 'mutation', 'subscription'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

/**
 * One stored API call (see activity.codec.ts for the encodings). The
 * timestamp is the id's; the label is the field's (activity.labels.ts); the
 * actor's id and display name at the time are one `activity_refs` entry.
 */
export interface ActivityEventTable {
  /** The environment's `activity_refs` id. */
  environment: number;
  /** The event's ULID as 16 bytes: a blob on SQLite, a uuid on PostgreSQL. */
  id: Buffer | string;
  /** `activity_refs` id of the root field's name. */
  field: number;
  operation: number;
  outcome: number;
  error_code: string | null;
  actor_type: number;
  /** `activity_refs` id of the actor (`<id>\t<display name>`). */
  actor: number;
  /** `activity_refs` id of the key used, when a key made the call. */
  api_key: number | null;
  request_id: string;
}

/** Interned text of the activity log (environment and key ids, actors, field names). */
export interface ActivityRefTable {
  id: Generated<number>;
  ref: string;
}

/**
 * Counts of events per environment, bucket (minute or hour, as minutes since
 * the epoch) and filter combination: `api_key`, `outcome` and `actor_type`
 * are 0 for "any". Written in the transaction that writes the events.
 */
export interface ActivityCountTable {
  environment: number;
  /** Bucket width in minutes: 1 or 60. */
  span: number;
  bucket: number;
  api_key: number;
  outcome: number;
  actor_type: number;
  n: number | string;
}

/** An event as the activity plugin makes it and the API shows it. */
export interface ActivityEvent {
  id: string;
  environmentId: string;
  /** When the call started (the id's time). */
  timestamp: Date;
  field: string;
  operationType: OperationType;
  outcome: ActivityOutcome;
  errorCode: string | null;
  actor: Actor;
  apiKeyId: string | null;
  requestId: string;
}

export interface ActivityFilter {
  environmentId: string;
  apiKeyId?: string | null;
  actorType?: ActorType | null;
  outcome?: ActivityOutcome | null;
  /** Events at or after this time (milliseconds). */
  sinceMs?: number | null;
}
