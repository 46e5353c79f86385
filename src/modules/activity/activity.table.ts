import type { Selectable } from 'kysely';
import type { ActorType } from '../audit/actor.js';

export const ACTIVITY_OUTCOMES = ['SUCCESS', 'DENIED', 'ERROR'] as const;
export type ActivityOutcome = (typeof ACTIVITY_OUTCOMES)[number];

export interface ActivityEventTable {
  id: string;
  account_id: string | null;
  environment_id: string | null;
  action: string;
  field: string;
  operation_type: string;
  outcome: ActivityOutcome;
  error_code: string | null;
  actor_type: ActorType;
  actor_id: string | null;
  actor_name: string;
  api_key_id: string | null;
  request_id: string;
  created_at: string;
}

export type ActivityEventRow = Selectable<ActivityEventTable>;
