import type { Insertable, Selectable } from 'kysely';

export const PLANS = ['FREE', 'GROWTH', 'SCALE'] as const;
export type Plan = (typeof PLANS)[number];

export const ROLES = ['OWNER', 'MEMBER', 'READ_ONLY'] as const;
export type Role = (typeof ROLES)[number];

export interface AccountTable {
  id: string;
  name: string;
  plan: Plan;
  created_at: string;
}

export interface UserTable {
  id: string;
  email: string;
  name: string | null;
  created_at: string;
}

export interface MembershipTable {
  account_id: string;
  user_id: string;
  role: Role;
  created_at: string;
}

export type AccountRow = Selectable<AccountTable>;
export type UserRow = Selectable<UserTable>;
export type MembershipRow = Selectable<MembershipTable>;
export type NewUser = Insertable<UserTable>;
