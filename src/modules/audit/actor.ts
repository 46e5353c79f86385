export const ACTOR_TYPES = ['USER', 'API_KEY', 'SYSTEM'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/** Who did something. The display name is copied at the time, so it survives renames and deletions. */
export interface Actor {
  type: ActorType;
  id: string | null;
  displayName: string;
}

export const SYSTEM_ACTOR: Actor = { type: 'SYSTEM', id: null, displayName: 'System' };
