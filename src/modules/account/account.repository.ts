import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../database/database.js';
import type { AccountRow, MembershipRow, Role, UserRow } from './account.table.js';

type Db = Kysely<Database>;

export async function insertAccount(trx: Transaction<Database>, account: AccountRow): Promise<void> {
  await trx.insertInto('accounts').values(account).execute();
}

export async function findAccountsByIds(db: Db, ids: readonly string[]): Promise<AccountRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('accounts').selectAll().where('id', 'in', ids).execute();
}

/** Whether the database holds any account (`serve --demo` bootstraps only an empty one). */
export async function hasAnyAccount(db: Db): Promise<boolean> {
  return (await db.selectFrom('accounts').select('id').limit(1).executeTakeFirst()) !== undefined;
}

export async function findAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUsersByIds(db: Db, ids: readonly string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('users').selectAll().where('id', 'in', ids).execute();
}

export async function insertUser(trx: Db, user: UserRow): Promise<void> {
  await trx.insertInto('users').values(user).execute();
}

export async function upsertMembership(db: Db, membership: MembershipRow): Promise<void> {
  await db
    .insertInto('memberships')
    .values(membership)
    .onConflict((oc) => oc.columns(['account_id', 'user_id']).doUpdateSet({ role: membership.role }))
    .execute();
}

export async function findMembershipsOfUser(db: Db, userId: string): Promise<MembershipRow[]> {
  return db.selectFrom('memberships').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

export type { Role };
