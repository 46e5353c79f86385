import type { Kysely } from 'kysely';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
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

const ofEnvironment = (db: Db, environmentId: string) =>
  db.selectFrom('customers').selectAll().where('environment_id', '=', environmentId);

export function listCustomers(db: Db, environmentId: string, page: PageRequest): Promise<CustomerRow[]> {
  return fetchPage(ofEnvironment(db, environmentId), page, 'asc');
}

export function countCustomers(db: Db, environmentId: string): Promise<number> {
  return countRows(ofEnvironment(db, environmentId));
}
