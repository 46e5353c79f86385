import { monotonicFactory } from 'ulid';

const ulid = monotonicFactory();

export type IdPrefix = 'acc' | 'usr' | 'env' | 'key' | 'kae' | 'act' | 'int' | 'cus' | 'sub' | 'cpn';

/** Prefixed, time-sortable id (`key_01J…`): ordering by id is ordering by creation. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

/** True when `id` looks like an id with this prefix; lets us answer NOT_FOUND without a query. */
export function hasPrefix(id: string, prefix: IdPrefix): boolean {
  return id.length === prefix.length + 27 && id.startsWith(`${prefix}_`);
}
