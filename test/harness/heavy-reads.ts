import { type Kysely, sql } from 'kysely';
import type { Reads } from '../../src/database/reader.js';
import { dialect } from './database.js';

/** How slow every read of api_keys becomes: about a second per statement, or far longer than any timeout. */
export type ReadWeight = 'heavy' | 'endless';

/**
 * Replaces the api_keys table by a view that is slow to read, as a table of
 * millions of keys would be: each statement reading it does `weight` of
 * work once (SQLite: a recursive count, PostgreSQL: pg_sleep) and returns
 * the same rows. Returns the function that puts the table back.
 */
export async function slowKeyReads(db: Kysely<any>, weight: ReadWeight): Promise<() => Promise<void>> {
  const work =
    dialect === 'sqlite'
      ? `(with recursive c(x) as (select 1 union all select x + 1 from c where x < ${weight === 'heavy' ? 1_500_000 : 1e12}) select count(*) from c) > 0`
      : `(select 1 from pg_sleep(${weight === 'heavy' ? 1 : 30})) = 1`;
  await sql.raw('alter table api_keys rename to api_keys_stored').execute(db);
  await sql.raw(`create view api_keys as select * from api_keys_stored where ${work}`).execute(db);
  return async () => {
    await sql.raw('drop view api_keys').execute(db);
    await sql.raw('alter table api_keys_stored rename to api_keys').execute(db);
  };
}

/** The list of an environment's keys with their count: two reads of api_keys. */
export const KEYS_QUERY = 'query ($env: ID!) { apiKeys(environmentId: $env) { totalCount edges { node { id } } } }';

export interface HttpReply {
  status: number;
  retryAfter: string | null;
  body: { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/** GraphQL over real HTTP (a socket, so a stalled event loop shows) with a session token. */
export function graphqlOver(url: string, token: string) {
  return async (query: string, variables: Record<string, unknown> = {}): Promise<HttpReply> => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as HttpReply['body'] };
  };
}

export interface BesideHeavyRead<T> {
  heavy: T;
  /** `viewer` calls and `/health` checks made while the heavy request was pending. */
  viewerCalls: number;
  healthChecks: number;
  /** Of those, the ones that began and ended inside one of the heavy request's reads (nothing else reads here). */
  viewerInsideRead: number;
  healthInsideRead: number;
  /** Milliseconds, of the viewer calls while the heavy request was pending; printed, never asserted. */
  viewerP99: number;
}

/**
 * Runs `heavy` beside three streams of `viewer` calls and one of `/health`,
 * all over HTTP, until it ends. A call counts as inside a read when no read
 * was sent or answered while it ran and one was in flight: it began and
 * ended while a heavy statement was running. If reads blocked the event
 * loop, no call could (its socket is not even read until the statement
 * ends).
 */
export async function besideHeavyRead<T>(
  url: string,
  token: string,
  reads: Reads,
  heavy: () => Promise<T>,
): Promise<BesideHeavyRead<T>> {
  const graphql = graphqlOver(url, token);
  let done = false;
  const latencies: number[] = [];
  const counts = { viewerCalls: 0, healthChecks: 0, viewerInsideRead: 0, healthInsideRead: 0 };
  const insideRead = async (call: () => Promise<void>) => {
    const before = { ...reads.stats };
    await call();
    const after = reads.stats;
    return before.sent > before.answered && after.sent === before.sent && after.answered === before.answered;
  };
  const viewerStream = async () => {
    while (!done) {
      const started = performance.now();
      const inside = await insideRead(async () => {
        const reply = await graphql('{ viewer { kind } }');
        if (reply.body.data?.viewer?.kind !== 'USER') throw new Error(`viewer failed: ${JSON.stringify(reply.body)}`);
      });
      if (done) break;
      latencies.push(performance.now() - started);
      counts.viewerCalls++;
      if (inside) counts.viewerInsideRead++;
    }
  };
  const healthStream = async () => {
    while (!done) {
      const inside = await insideRead(async () => {
        const res = await fetch(`${url}/health`);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`/health answered ${res.status}`);
      });
      if (done) break;
      counts.healthChecks++;
      if (inside) counts.healthInsideRead++;
    }
  };
  const streams = [viewerStream(), viewerStream(), viewerStream(), healthStream()];
  // The streams are running before the heavy request is sent, so a stall cannot hide between them.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const result = await heavy().finally(() => {
    done = true;
  });
  await Promise.all(streams);
  latencies.sort((a, b) => a - b);
  const viewerP99 = latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]! : 0;
  return { heavy: result, ...counts, viewerP99 };
}
