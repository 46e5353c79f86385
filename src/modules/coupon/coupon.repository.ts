import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { CouponRow } from './coupon.table.js';

type Db = Kysely<Database>;

export async function insertCoupon(db: Db, row: CouponRow): Promise<void> {
  await db.insertInto('coupons').values(row).execute();
}

const ofEnvironment = (db: Db, environmentId: string) =>
  db.selectFrom('coupons').selectAll().where('environment_id', '=', environmentId);

export function listCoupons(db: Db, environmentId: string, page: PageRequest): Promise<CouponRow[]> {
  return fetchPage(ofEnvironment(db, environmentId), page, 'asc');
}

export function countCoupons(db: Db, environmentId: string): Promise<number> {
  return countRows(ofEnvironment(db, environmentId));
}
