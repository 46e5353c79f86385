import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../database/database.js';
import { countRows, fetchPage } from '../../database/keyset.js';
import { newId } from '../../shared/ids.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { Actor } from './actor.js';
import type { KeyAuditEventRow, KeyAuditEventType } from './key-audit.table.js';

export interface KeyAuditEntry {
  keyId: string;
  environmentId: string;
  event: KeyAuditEventType;
  actor: Actor;
  details?: Record<string, unknown> | null;
  at: Date;
}

/** Records a lifecycle event. Takes a transaction: the event commits with the change or not at all. */
export async function recordKeyEvent(trx: Transaction<Database>, entry: KeyAuditEntry): Promise<void> {
  await trx
    .insertInto('key_audit_events')
    .values({
      id: newId('kae'),
      key_id: entry.keyId,
      environment_id: entry.environmentId,
      event: entry.event,
      actor_type: entry.actor.type,
      actor_id: entry.actor.id,
      actor_name: entry.actor.displayName,
      details: entry.details ? JSON.stringify(entry.details) : null,
      created_at: entry.at.toISOString(),
    })
    .execute();
}

const ofKey = (db: Kysely<Database>, keyId: string) => db.selectFrom('key_audit_events').selectAll().where('key_id', '=', keyId);

/** Newest first. */
export function listKeyEvents(db: Kysely<Database>, keyId: string, page: PageRequest): Promise<KeyAuditEventRow[]> {
  return fetchPage(ofKey(db, keyId), page, 'desc');
}

export function countKeyEvents(db: Kysely<Database>, keyId: string): Promise<number> {
  return countRows(ofKey(db, keyId));
}

export function eventDetails(row: Pick<KeyAuditEventRow, 'details'>): Record<string, unknown> | null {
  return row.details == null ? null : (JSON.parse(row.details) as Record<string, unknown>);
}
