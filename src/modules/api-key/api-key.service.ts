import type { Transaction } from 'kysely';
import type { RequestContext } from '../../context.js';
import type { Database } from '../../database/database.js';
import type { Deps } from '../../deps.js';
import { notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { type Page, type PageArgs, pageRequest, toPage } from '../../shared/pagination.js';
import type { Actor } from '../audit/actor.js';
import { countKeyEvents, listKeyEvents, recordKeyEvent } from '../audit/key-audit.repository.js';
import type { KeyAuditEventRow } from '../audit/key-audit.table.js';
import { grantsOn } from '../auth/principal.js';
import { resolveEnvironment } from '../environment/environment.service.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { type Grants, needs } from '../permission/permission.model.js';
import { countKeys, insertKey, listKeys } from './api-key.repository.js';
import { digestKey, generateKeySecret, type KeyPrefix } from './api-key.secret.js';
import type { ApiKeyCategory, ApiKeyStatus } from './api-key.status.js';
import type { ApiKeyRow, ApiKeyType } from './api-key.table.js';

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

export interface KeySpec {
  accountId: string;
  environmentId: string;
  type: ApiKeyType;
  name: string;
  description: string | null;
  /** Stored scope; scoped keys only. */
  scopes: readonly string[] | null;
  integrationId?: string | null;
  rotatedFromId?: string | null;
  /** Details of the KEY_CREATED event (never key material). */
  createdDetails?: Record<string, unknown>;
  actor: Actor;
  now: Date;
}

export interface IssuedKey {
  row: ApiKeyRow;
  /** Plaintext, returned to the caller once and never stored or logged. */
  secret: string;
}

/** Creates a key and its KEY_CREATED audit event in the caller's transaction. */
export async function issueKey(trx: Transaction<Database>, deps: Pick<Deps, 'secretBox'>, spec: KeySpec): Promise<IssuedKey> {
  const id = newId('key');
  const secret = generateKeySecret(KEY_PREFIX[spec.type]);
  const row: ApiKeyRow = {
    id,
    account_id: spec.accountId,
    environment_id: spec.environmentId,
    type: spec.type,
    name: spec.name,
    description: spec.description,
    digest: digestKey(secret),
    last4: secret.slice(-4),
    // The key id is bound in as associated data: a ciphertext cannot be moved to another row.
    secret_encrypted: deps.secretBox.seal(secret, id),
    scopes: spec.scopes ? JSON.stringify(spec.scopes) : null,
    integration_id: spec.integrationId ?? null,
    created_at: spec.now.toISOString(),
    created_by_type: spec.actor.type,
    created_by_id: spec.actor.id,
    created_by_name: spec.actor.displayName,
    expires_at: null,
    revoked_at: null,
    rotated_from_id: spec.rotatedFromId ?? null,
    rotated_to_id: null,
    last_used_at: null,
    deleted_at: null,
  };
  await insertKey(trx, row);
  await recordKeyEvent(trx, {
    keyId: id,
    environmentId: spec.environmentId,
    event: 'KEY_CREATED',
    actor: spec.actor,
    details: spec.rotatedFromId ? { rotatedFrom: spec.rotatedFromId, ...spec.createdDetails } : (spec.createdDetails ?? null),
    at: spec.now,
  });
  return { row, secret };
}

/**
 * A key the caller can see, with the caller's grants in its environment;
 * NOT_FOUND otherwise. Keys of disconnected integrations stay readable by id
 * (revoked, so EXPIRED) to keep their audit trail; lists leave them out.
 */
export async function reachKey(ctx: RequestContext, id: string): Promise<{ key: ApiKeyRow; grants: Grants }> {
  const key = await ctx.loaders.apiKey.load(id);
  const grants = key ? grantsOn(ctx.principal, key) : null;
  if (!key || !grants) throw notFound('API key');
  return { key, grants };
}

export async function getApiKey(ctx: RequestContext, id: string): Promise<ApiKeyRow> {
  const { key, grants } = await reachKey(ctx, id);
  assertGranted(grants, KEY_NEEDS.read);
  return key;
}

export interface ListApiKeysArgs extends PageArgs {
  environmentId?: string | null;
  categories?: readonly ApiKeyCategory[] | null;
  statuses?: readonly ApiKeyStatus[] | null;
}

export async function listApiKeys(ctx: RequestContext, args: ListApiKeysArgs): Promise<Page<ApiKeyRow>> {
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
  const rows = await listKeys(ctx.db, filter, page);
  for (const row of rows) ctx.loaders.apiKey.prime(row.id, row);
  return toPage(rows, page, () => countKeys(ctx.db, filter));
}

/** A key's audit log, newest first (the caller already reached the key). */
export async function listKeyAuditLog(ctx: RequestContext, key: ApiKeyRow, args: PageArgs): Promise<Page<KeyAuditEventRow>> {
  const { grants } = await reachKey(ctx, key.id);
  assertGranted(grants, KEY_NEEDS.read);
  const page = pageRequest(args);
  const rows = await listKeyEvents(ctx.db, key.id, page);
  return toPage(rows, page, () => countKeyEvents(ctx.db, key.id));
}
