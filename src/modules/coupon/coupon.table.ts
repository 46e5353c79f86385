import type { Selectable } from 'kysely';

export interface CouponTable {
  id: string;
  account_id: string;
  environment_id: string;
  code: string;
  percent_off: number;
  created_at: string;
}

export type CouponRow = Selectable<CouponTable>;
