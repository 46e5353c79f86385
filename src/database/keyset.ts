import { type SelectQueryBuilder, sql } from 'kysely';
import type { PageRequest } from '../shared/pagination.js';
import type { Database } from './database.js';

/**
 * One page of a filtered query by keyset on the time-sortable `id`: rows
 * after the cursor, in `order`, plus one extra row that tells toPage() there
 * is a next page.
 */
export function fetchPage<TB extends keyof Database, O>(
  query: SelectQueryBuilder<Database, TB, O>,
  page: PageRequest,
  order: 'asc' | 'desc',
): Promise<O[]> {
  const after = page.afterId ? query.where(sql.ref('id'), order === 'asc' ? '>' : '<', page.afterId) : query;
  return after
    .orderBy(sql.ref('id'), order)
    .limit(page.size + 1)
    .execute();
}

/** `count(*)` of a filtered query (its selection is replaced). */
export async function countRows<TB extends keyof Database, O>(query: SelectQueryBuilder<Database, TB, O>): Promise<number> {
  const row = await query.clearSelect().select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
