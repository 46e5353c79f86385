import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import type { SubscriptionRow } from './subscription.table.js';

type Db = Kysely<Database>;

export async function insertSubscription(db: Db, row: SubscriptionRow): Promise<void> {
  await db.insertInto('subscriptions').values(row).execute();
}

export async function findSubscriptionsByIds(db: Db, ids: readonly string[]): Promise<SubscriptionRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('subscriptions').selectAll().where('id', 'in', ids).execute();
}

/** Every subscription of these customers, in one statement, in creation order. */
export async function findSubscriptionsOfCustomers(db: Db, customerRefs: readonly string[]): Promise<SubscriptionRow[]> {
  if (customerRefs.length === 0) return [];
  return db.selectFrom('subscriptions').selectAll().where('customer_ref', 'in', customerRefs).orderBy('id').execute();
}

/** Cancels an active subscription; false when it was not active (already canceled). */
export async function cancelActiveSubscription(db: Db, id: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('subscriptions')
    .set({ status: 'CANCELED', canceled_at: at })
    .where('id', '=', id)
    .where('status', '=', 'ACTIVE')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}
