import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../database/database.js';
import type { EnvironmentRow } from './environment.table.js';

type Db = Kysely<Database>;

export async function insertEnvironment(trx: Transaction<Database>, env: EnvironmentRow): Promise<void> {
  await trx.insertInto('environments').values(env).execute();
}

export async function findEnvironmentsByIds(db: Db, ids: readonly string[]): Promise<EnvironmentRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('environments').selectAll().where('id', 'in', ids).execute();
}

export async function findEnvironmentsOfAccounts(db: Db, accountIds: readonly string[]): Promise<EnvironmentRow[]> {
  if (accountIds.length === 0) return [];
  return db.selectFrom('environments').selectAll().where('account_id', 'in', accountIds).orderBy('id').execute();
}

export async function findSlugsOfAccount(db: Db, accountId: string): Promise<string[]> {
  const rows = await db.selectFrom('environments').select('slug').where('account_id', '=', accountId).execute();
  return rows.map((r) => r.slug);
}

export async function updateEnvironmentSecurity(
  db: Db,
  id: string,
  patch: Partial<Pick<EnvironmentRow, 'client_side_security' | 'signing_secret_encrypted'>>,
): Promise<void> {
  await db.updateTable('environments').set(patch).where('id', '=', id).execute();
}
