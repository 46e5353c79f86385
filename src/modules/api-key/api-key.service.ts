import type { RequestContext } from '../../context.js';
import { notFound } from '../../shared/errors.js';
import { type Page, type PageArgs, pageRequest, toPage } from '../../shared/pagination.js';
import { countKeyEvents, listKeyEvents } from '../audit/key-audit.repository.js';
import type { KeyAuditEventRow } from '../audit/key-audit.table.js';
import { reach, resolveEnvironment } from '../auth/tenancy.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { type Grants, needs } from '../permission/permission.model.js';
import type { ApiKey } from './api-key.model.js';
import { countKeys, listKeys } from './api-key.repository.js';
import type { KeyPrefix } from './api-key.secret.js';
import type { ApiKeyCategory, ApiKeyStatus } from './api-key.status.js';
import type { ApiKeyType } from './api-key.table.js';

/** What reading and managing keys needs; the fields' gates and the lifecycle read the same declarations. */
export const KEY_NEEDS = { read: needs([P.apiKeysRead]), write: needs([P.apiKeysWrite]) };

export const KEY_PREFIX: Record<ApiKeyType, KeyPrefix> = {
  FULL_ACCESS: 'server-',
  PUBLISHABLE: 'client-',
  SCOPED: 'server-',
  INTEGRATION: 'server-',
};

export const DEFAULT_KEY_NAMES = {
  FULL_ACCESS: 'Full access key',
  PUBLISHABLE: 'Publishable key',
} as const;

/**
 * A key the caller can see, with the caller's grants in its environment;
 * NOT_FOUND otherwise. Keys of disconnected integrations stay readable by id
 * (revoked, so EXPIRED) to keep their audit trail; lists leave them out.
 */
export async function reachKey(ctx: RequestContext, id: string): Promise<{ key: ApiKey; grants: Grants }> {
  const key = await ctx.loaders.apiKey.load(id);
  const grants = key ? reach(ctx, { account_id: key.accountId, environment_id: key.environmentId }) : null;
  if (!key || !grants) throw notFound('API key');
  return { key, grants };
}

export async function getApiKey(ctx: RequestContext, id: string): Promise<ApiKey> {
  const { key, grants } = await reachKey(ctx, id);
  assertGranted(grants, KEY_NEEDS.read);
  return key;
}

export interface ListApiKeysArgs extends PageArgs {
  environmentId?: string | null;
  categories?: readonly ApiKeyCategory[] | null;
  statuses?: readonly ApiKeyStatus[] | null;
}

export async function listApiKeys(ctx: RequestContext, args: ListApiKeysArgs): Promise<Page<ApiKey>> {
  const page = pageRequest(args);
  const { env, grants } = await resolveEnvironment(ctx, args.environmentId);
  assertGranted(grants, KEY_NEEDS.read);
  // Repeated filter values mean nothing more; deduplicated, the SQL stays small whatever the caller sends.
  const unique = <T>(values: readonly T[] | null | undefined) => (values ? [...new Set(values)] : values);
  const filter = {
    environmentId: env.id,
    categories: unique(args.categories),
    statuses: unique(args.statuses),
    now: ctx.clock.now(),
  };
  const rows = await listKeys(ctx.reads, filter, page);
  for (const row of rows) ctx.loaders.apiKey.prime(row.id, row);
  return toPage(rows, page, () => countKeys(ctx.reads, filter));
}

/** A key's audit log, newest first (the caller already reached the key). */
export async function listKeyAuditLog(ctx: RequestContext, key: ApiKey, args: PageArgs): Promise<Page<KeyAuditEventRow>> {
  const { grants } = await reachKey(ctx, key.id);
  assertGranted(grants, KEY_NEEDS.read);
  const page = pageRequest(args);
  const rows = await listKeyEvents(ctx.db, key.id, page);
  return toPage(rows, page, () => countKeyEvents(ctx.db, key.id));
}
