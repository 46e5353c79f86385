import { type Kysely, PostgresAdapter, sql } from 'kysely';

/** Column types that differ per dialect; migrations use these so one file serves both. */
export function columnTypes(db: Kysely<any>) {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  return {
    /** Primary keys are time-sortable ULIDs: byte order must be time order, whatever the database locale. */
    id: postgres ? sql`text collate "C"` : sql`text`,
    /** ISO-8601 text on SQLite (sorts correctly), timestamptz on PostgreSQL. */
    timestamp: postgres ? ('timestamptz' as const) : ('text' as const),
    json: postgres ? ('jsonb' as const) : ('text' as const),
    postgres,
  };
}
