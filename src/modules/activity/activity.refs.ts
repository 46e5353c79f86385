import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Database } from '../../database/database.js';

type Db = Kysely<Database>;

/** Most texts a lookup sends in one statement (well under either database's parameter limit). */
const CHUNK = 500;

/**
 * The interned text of the activity log: each distinct environment id, key
 * id, actor and field name is stored once in `activity_refs` and events hold
 * its integer. Texts only ever come from Keygate itself (ids it made, names
 * in its schema, actors it authenticated), never from what a caller types,
 * so the table grows with keys, users and fields, not with traffic. A
 * bounded cache in front keeps the write path free of lookups.
 */
export class ActivityRefs {
  private readonly cache = new LRUCache<string, number>({ max: 20_000 });

  constructor(private readonly db: Db) {}

  /** The ids of these texts, creating those not stored yet. */
  async intern(texts: Iterable<string>, db: Db = this.db): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const missing: string[] = [];
    for (const text of new Set(texts)) {
      const id = this.cache.get(text);
      if (id === undefined) missing.push(text);
      else found.set(text, id);
    }
    for (let at = 0; at < missing.length; at += CHUNK) {
      const chunk = missing.slice(at, at + CHUNK);
      await db
        .insertInto('activity_refs')
        .values(chunk.map((ref) => ({ ref })))
        .onConflict((oc) => oc.column('ref').doNothing())
        .execute();
      for (const row of await db.selectFrom('activity_refs').select(['id', 'ref']).where('ref', 'in', chunk).execute()) {
        const id = Number(row.id);
        this.cache.set(row.ref, id);
        found.set(row.ref, id);
      }
    }
    return found;
  }

  /** The id of a text, or null when nothing has stored it (so no event can name it). */
  async find(text: string): Promise<number | null> {
    const cached = this.cache.get(text);
    if (cached !== undefined) return cached;
    const row = await this.db.selectFrom('activity_refs').select('id').where('ref', '=', text).executeTakeFirst();
    if (!row) return null;
    const id = Number(row.id);
    this.cache.set(text, id);
    return id;
  }
}

/** The stored text of an actor: its id and its display name at the time, so renames leave history alone. */
export const actorRef = (id: string | null, displayName: string): string => `${id ?? ''}\t${displayName}`;

export function actorOfRef(ref: string): { id: string | null; displayName: string } {
  const tab = ref.indexOf('\t');
  const id = ref.slice(0, tab);
  return { id: id === '' ? null : id, displayName: ref.slice(tab + 1) };
}
