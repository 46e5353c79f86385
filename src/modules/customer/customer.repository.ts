import { type Kysely, sql } from 'kysely';
import type { Database } from '../../database/database.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { CustomerRow } from './customer.table.js';

type Db = Kysely<Database>;

export function customerMetadata(row: Pick<CustomerRow, 'metadata'>): unknown {
  return row.metadata === null ? null : JSON.parse(row.metadata);
}

export async function insertCustomer(db: Db, row: CustomerRow): Promise<void> {
  await db.insertInto('customers').values(row).execute();
}

export async function updateCustomerRow(
  db: Db,
  id: string,
  patch: Partial<Pick<CustomerRow, 'name' | 'email' | 'metadata' | 'updated_at'>>,
): Promise<void> {
  await db.updateTable('customers').set(patch).where('id', '=', id).execute();
}

export async function findCustomer(db: Db, environmentId: string, customerId: string): Promise<CustomerRow | undefined> {
  return db
    .selectFrom('customers')
    .selectAll()
    .where('environment_id', '=', environmentId)
    .where('customer_id', '=', customerId)
    .executeTakeFirst();
}

export async function findCustomersByIds(db: Db, ids: readonly string[]): Promise<CustomerRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('customers').selectAll().where('id', 'in', ids).execute();
}

export async function listCustomers(db: Db, environmentId: string, page: PageRequest): Promise<CustomerRow[]> {
  let query = db.selectFrom('customers').selectAll().where('environment_id', '=', environmentId);
  if (page.afterId) query = query.where('id', '>', page.afterId);
  return query
    .orderBy('id', 'asc')
    .limit(page.size + 1)
    .execute();
}

export async function countCustomers(db: Db, environmentId: string): Promise<number> {
  const row = await db
    .selectFrom('customers')
    .select(sql<number>`count(*)`.as('n'))
    .where('environment_id', '=', environmentId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
