import { badInput } from './errors.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** A validated page request: `size` rows after the row whose sort key is `afterId`. */
export interface PageRequest {
  size: number;
  afterId: string | null;
}

export interface Page<T> {
  nodes: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: () => Promise<number>;
}

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** Validates `first`/`after`; bad values are BAD_USER_INPUT naming the argument and limit. */
export function pageRequest({ first, after }: PageArgs): PageRequest {
  const size = first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw badInput('first', `must be between 0 and ${MAX_PAGE_SIZE}, got ${first}.`);
  }
  let afterId: string | null = null;
  if (after != null) {
    afterId = Buffer.from(after, 'base64url').toString('utf8');
    if (!/^[a-z]{3}_[0-9A-Z]{26}$/.test(afterId) || encodeCursor(afterId) !== after) {
      throw badInput('after', 'is not a cursor returned by this connection.');
    }
  }
  return { size, afterId };
}

/** Turns `size + 1` fetched rows into a page (the extra row only says there is a next page). */
export function toPage<T>(rows: T[], request: PageRequest, totalCount: () => Promise<number>): Page<T> {
  const hasNextPage = rows.length > request.size;
  return {
    nodes: hasNextPage ? rows.slice(0, request.size) : rows,
    hasNextPage,
    hasPreviousPage: request.afterId !== null,
    totalCount,
  };
}
