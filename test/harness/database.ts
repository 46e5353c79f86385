import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll } from 'vitest';

/** Which dialect this test run uses: each vitest project sets KEYGATE_TEST_DIALECT. */
export const dialect: 'sqlite' | 'postgres' = process.env.KEYGATE_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';

/** The PostgreSQL server tests use (loopback only). */
export const POSTGRES_URL = process.env.KEYGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A URL on the server pinned to one schema (search_path), so runs and files never collide. */
export function urlForSchema(schema: string): string {
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, private database for this test file: an in-memory SQLite database
 * or, on PostgreSQL, a new schema dropped when the file ends. `fileDir` asks
 * for a file-backed SQLite database instead (for tests that reopen it).
 */
export async function freshDatabaseUrl(options: { fileDir?: string } = {}): Promise<string> {
  if (dialect === 'sqlite') return options.fileDir ? `file:${options.fileDir}/keygate.db` : ':memory:';
  const schema = `kg_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create schema ${schema}`));
  afterAll(() => admin((c) => c.query(`drop schema if exists ${schema} cascade`)));
  return urlForSchema(schema);
}

/**
 * Makes the database itself refuse inserts into `table` of rows whose
 * `column` is `value` (a trigger, in each dialect's language), as a failing
 * disk or constraint would; returns the function that lifts it.
 */
export async function refuseInserts(db: Kysely<any>, table: string, column: string, value: string): Promise<() => Promise<void>> {
  const name = `fail_${table}_${randomBytes(3).toString('hex')}`;
  const literal = `'${value.replaceAll("'", "''")}'`;
  if (dialect === 'sqlite') {
    await sql
      .raw(
        `create trigger ${name} before insert on ${table} when new.${column} = ${literal} begin select raise(abort, 'storage refused the row'); end`,
      )
      .execute(db);
    return async () => void (await sql.raw(`drop trigger ${name}`).execute(db));
  }
  await sql
    .raw(
      `create function ${name}() returns trigger language plpgsql as $$ begin raise exception 'storage refused the row'; end $$`,
    )
    .execute(db);
  await sql
    .raw(
      `create trigger ${name} before insert on ${table} for each row when (new.${column} = ${literal}) execute function ${name}()`,
    )
    .execute(db);
  return async () => void (await sql.raw(`drop function ${name}() cascade`).execute(db));
}

/** Makes the database refuse inserts of one key audit event type (see refuseInserts). */
export const failAuditInserts = (db: Kysely<any>, event: string) => refuseInserts(db, 'key_audit_events', 'event', event);

/** Whether a process of this machine is alive (a signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Drops the schemas of test processes that are gone (killed before their
 * `afterAll` ran): schema names carry their process id. Left alone they pile
 * up, and every migrator run introspects them all (Kysely reads the tables of
 * every schema), which makes runs slower and lets a schema another run drops
 * meanwhile fail a migration. Schemas of live processes (a concurrent run) are
 * kept. Returns how many were dropped.
 */
export async function sweepAbandonedSchemas(url = POSTGRES_URL): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "select nspname as name from pg_namespace where nspname ~ '^kg_test_[0-9]+_[0-9a-f]+$'",
    );
    let dropped = 0;
    for (const { name } of rows) {
      if (alive(Number(name.split('_')[2]))) continue;
      await client.query(`drop schema if exists ${name} cascade`);
      dropped++;
    }
    return dropped;
  } finally {
    await client.end();
  }
}
