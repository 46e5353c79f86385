import type { Transaction } from 'kysely';
import type { Database } from '../../database/database.js';
import type { Deps } from '../../deps.js';
import { newId } from '../../shared/ids.js';
import type { Actor } from '../audit/actor.js';
import { recordKeyEvent } from '../audit/key-audit.repository.js';
import type { KeyAuditEventType } from '../audit/key-audit.table.js';
import { emitKeyChangeEvents } from '../webhook/webhook.outbox.js';
import type { ApiKey } from './api-key.model.js';
import { insertKey, type KeyPatch, lockKey, updateKey } from './api-key.repository.js';
import { digestKey, generateKeySecret } from './api-key.secret.js';
import { KEY_PREFIX } from './api-key.service.js';
import type { ApiKeyType } from './api-key.table.js';

/**
 * One change to one key, as every step that follows it sees it. `before` is
 * null when the key is created; a reveal changes nothing, so its `before`
 * and `after` are the same key.
 */
export interface KeyChange {
  before: ApiKey | null;
  after: ApiKey;
  event: KeyAuditEventType;
  details: Record<string, unknown> | null;
  actor: Actor;
  at: Date;
}

/** What a caller tells about its change; the keys before and after come from the unit. */
export type KeyEvent = Pick<KeyChange, 'event' | 'actor' | 'at'> & { details?: Record<string, unknown> | null };

/**
 * Records a key change in the transaction that makes it. Every change of
 * every key passes here (creation, the lifecycle, disconnection, reveal), so
 * a step that must follow each of them (the audit event, the webhook
 * outbox's events) is written once, here: they commit with the change or
 * not at all.
 */
async function recordKeyChange(trx: Transaction<Database>, change: KeyChange): Promise<void> {
  await recordKeyEvent(trx, {
    keyId: change.after.id,
    environmentId: change.after.environmentId,
    event: change.event,
    actor: change.actor,
    details: change.details,
    at: change.at,
  });
  await emitKeyChangeEvents(trx, change);
}

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
  /** The key as stored. */
  row: ApiKey;
  /** Plaintext, returned to the caller once and never stored or logged. */
  secret: string;
}

/**
 * Creates a key and records its KEY_CREATED change in the caller's
 * transaction. A new key is in no cache, so there is nothing to announce to
 * the key cache or invalidate.
 */
export async function issueKey(trx: Transaction<Database>, deps: Pick<Deps, 'secretBox'>, spec: KeySpec): Promise<IssuedKey> {
  const id = newId('key');
  const secret = generateKeySecret(KEY_PREFIX[spec.type]);
  const row = await insertKey(trx, {
    id,
    accountId: spec.accountId,
    environmentId: spec.environmentId,
    type: spec.type,
    name: spec.name,
    description: spec.description,
    digest: digestKey(secret),
    last4: secret.slice(-4),
    // The key id is bound in as associated data: a ciphertext cannot be moved to another row.
    secretEncrypted: deps.secretBox.seal(secret, id),
    scopes: spec.scopes,
    integrationId: spec.integrationId ?? null,
    createdAt: spec.now.toISOString(),
    createdBy: spec.actor,
    rotatedFromId: spec.rotatedFromId ?? null,
  });
  await recordKeyChange(trx, {
    before: null,
    after: row,
    event: 'KEY_CREATED',
    details: spec.rotatedFromId ? { rotatedFrom: spec.rotatedFromId, ...spec.createdDetails } : (spec.createdDetails ?? null),
    actor: spec.actor,
    at: spec.now,
  });
  return { row, secret };
}

/** The key changes of one transaction; only `changeKeys` makes one. */
export interface KeyChanges {
  trx: Transaction<Database>;
  /** Reads a key and holds its row until commit (lockKey): checks on it see the state the change will replace. */
  lock(id: string): Promise<ApiKey | undefined>;
  /** Changes a locked key, announces and records the change; returns the key as stored after it. */
  apply(key: ApiKey, patch: KeyPatch, event: KeyEvent): Promise<ApiKey>;
  /** Records an event that leaves the key as it is (a reveal). */
  record(key: ApiKey, event: KeyEvent): Promise<void>;
  /** Creates a key in this transaction (see issueKey). */
  issue(spec: KeySpec): Promise<IssuedKey>;
}

/**
 * The one key-change unit: runs `work` in one transaction through which every
 * change is written, announced to the other instances (PostgreSQL NOTIFY,
 * delivered when it commits) and recorded; once the transaction commits,
 * this instance forgets every key it changed. No caller has to remember the
 * invalidation: a revoked or re-scoped key is refused from the next request.
 */
export async function changeKeys<T>(
  deps: Pick<Deps, 'db' | 'database' | 'keyCache' | 'secretBox'>,
  work: (keys: KeyChanges) => Promise<T>,
): Promise<T> {
  const changed = new Set<string>();
  const result = await deps.db.transaction().execute((trx) =>
    work({
      trx,
      lock: (id) => lockKey(trx, id, deps.database.dialect),
      async apply(key, patch, event) {
        const after = await updateKey(trx, key.id, patch);
        await deps.keyCache.announce(trx, key.id);
        changed.add(key.id);
        await recordKeyChange(trx, { ...event, before: key, after, details: event.details ?? null });
        return after;
      },
      record: (key, event) => recordKeyChange(trx, { ...event, before: key, after: key, details: event.details ?? null }),
      issue: (spec) => issueKey(trx, deps, spec),
    }),
  );
  // Only after commit: dropped earlier, a concurrent lookup could cache the old row again.
  for (const id of changed) deps.keyCache.invalidate(id);
  return result;
}
