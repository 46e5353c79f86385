import { type Kysely, sql } from 'kysely';
import type { Database } from '../../database/database.js';
import { DAY } from '../../shared/clock.js';
import { bytesAtTime, idCodec } from './activity.codec.js';

/*
 * PostgreSQL keeps `activity_events` partitioned by range of id, one
 * partition a day (ids begin with their millisecond, so a range of ids is a
 * range of time). Partitions are created ahead of time and on demand, and an
 * aged one is detached and dropped whole: no row-by-row delete, no bloat.
 */

const PREFIX = 'activity_events_p';
const uuid = idCodec('postgres');

/** Days since the epoch of a time. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY);

export function partitionName(day: number): string {
  const date = new Date(day * DAY).toISOString().slice(0, 10).replaceAll('-', '');
  return `${PREFIX}${date}`;
}

/** The day of a partition's name, or null for a table that is not one. */
export function dayOfPartition(name: string): number | null {
  const match = /^activity_events_p(\d{4})(\d{2})(\d{2})$/.exec(name);
  return match ? dayOf(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
}

/** Creates the partition of a day unless it exists (several instances may race: both succeed). */
export async function createPartition(db: Kysely<Database>, day: number): Promise<void> {
  const from = uuid.encode(bytesAtTime(day * DAY));
  const to = uuid.encode(bytesAtTime((day + 1) * DAY));
  try {
    await sql`create table if not exists ${sql.id(partitionName(day))} partition of activity_events for values from (${sql.lit(from)}) to (${sql.lit(to)})`.execute(
      db,
    );
  } catch (error) {
    // Another instance created it between our check and our create.
    if ((error as { code?: string }).code !== '42P07') throw error;
  }
}

/** Partition tables of this schema by day, attached or left over from an interrupted drop. */
export async function listPartitions(db: Kysely<Database>): Promise<{ name: string; day: number; attached: boolean }[]> {
  const { rows } = await sql<{ name: string; attached: boolean }>`
    select c.relname as name, exists (select 1 from pg_inherits i where i.inhrelid = c.oid) as attached
    from pg_class c
    where c.relnamespace = current_schema()::regnamespace and c.relkind = 'r' and c.relname like ${`${PREFIX}%`}`.execute(db);
  return rows.flatMap((r) => {
    const day = dayOfPartition(r.name);
    return day === null ? [] : [{ name: r.name, day, attached: r.attached }];
  });
}

/**
 * The interned ids of the environments with events in one partition: a skip
 * scan of its primary key (environment, id), one index probe per
 * environment however many events each has.
 */
export async function environmentsInPartition(db: Kysely<Database>, name: string): Promise<number[]> {
  const table = sql.id(name);
  const { rows } = await sql<{ environment: number }>`
    with recursive seen(environment) as (
      (select environment from ${table} order by environment limit 1)
      union all
      select (select p.environment from ${table} p where p.environment > seen.environment order by p.environment limit 1)
      from seen where seen.environment is not null
    )
    select environment from seen where environment is not null`.execute(db);
  return rows.map((r) => Number(r.environment));
}

/**
 * Detaches and drops one partition. DETACH … CONCURRENTLY does not block
 * writers of the other partitions; a detach a crash interrupted is
 * finished (FINALIZE), and a detached table left behind is dropped.
 */
export async function dropPartition(db: Kysely<Database>, name: string, attached: boolean): Promise<void> {
  if (attached) {
    try {
      await sql`alter table activity_events detach partition ${sql.id(name)} concurrently`.execute(db);
    } catch (error) {
      // 55000: a detach interrupted earlier is pending; finish it.
      if ((error as { code?: string }).code !== '55000') throw error;
      await sql`alter table activity_events detach partition ${sql.id(name)} finalize`.execute(db);
    }
  }
  await sql`drop table if exists ${sql.id(name)}`.execute(db);
}

/**
 * The days whose partitions this instance has seen exist, so the write path
 * creates one only for a day it has not seen (bounded: a few weeks of days).
 */
export class PartitionDays {
  private readonly known = new Set<number>();

  async ensure(db: Kysely<Database>, days: Iterable<number>): Promise<void> {
    for (const day of days) {
      if (this.known.has(day)) continue;
      await createPartition(db, day);
      if (this.known.size >= 1000) this.known.clear();
      this.known.add(day);
    }
  }

  forget(day: number): void {
    this.known.delete(day);
  }
}
