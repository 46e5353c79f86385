import { type Kysely, sql } from 'kysely';
import type { Database } from '../../database/database.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { CouponRow } from './coupon.table.js';

type Db = Kysely<Database>;

export async function insertCoupon(db: Db, row: CouponRow): Promise<void> {
  await db.insertInto('coupons').values(row).execute();
}

export async function listCoupons(db: Db, environmentId: string, page: PageRequest): Promise<CouponRow[]> {
  let query = db.selectFrom('coupons').selectAll().where('environment_id', '=', environmentId);
  if (page.afterId) query = query.where('id', '>', page.afterId);
  return query
    .orderBy('id', 'asc')
    .limit(page.size + 1)
    .execute();
}

export async function countCoupons(db: Db, environmentId: string): Promise<number> {
  const row = await db
    .selectFrom('coupons')
    .select(sql<number>`count(*)`.as('n'))
    .where('environment_id', '=', environmentId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
