import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReaderPool, ReadTimedOut } from '../../src/database/reader.js';
import { startServer } from '../../src/server.js';
import { DependencyUnavailable } from '../../src/shared/errors.js';
import { freshDatabaseUrl } from '../harness/database.js';
import { besideHeavyRead, graphqlOver, KEYS_QUERY, slowKeyReads } from '../harness/heavy-reads.js';
import { seedTenant, startTestKeygate, type TestKeygate } from '../harness/keygate.js';
import { keygateCommand, processEnv, startServeProcess } from '../harness/processes.js';

/**
 * The SQLite reader processes themselves (database/reader.ts): why they
 * exist, their bounds, and what happens when one is stuck or dies. The
 * behaviour both dialects share is in non-blocking-reads.test.ts.
 */

async function fileKeygate(config: { statementTimeoutMs: number; sqliteReaders?: number; sqliteReadQueue?: number }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-readers-'));
  return startTestKeygate({ databaseUrl: await freshDatabaseUrl({ fileDir: dir }), ...config });
}

const poolOf = (t: TestKeygate): ReaderPool => {
  const pool = t.keygate.deps.reads.pool;
  if (!pool) throw new Error('expected reader processes on a SQLite file');
  return pool;
};

/** A count that takes `n` steps inside SQLite; 1e12 outlasts any test. */
const counting = (t: TestKeygate, n: number) =>
  sql<{
    n: number;
  }>`with recursive c(x) as (select 1 union all select x + 1 from c where x < ${n}) select count(*) as n from c`.compile(
    t.keygate.deps.db,
  );

const isGone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'ESRCH';
  }
};

/** Polls `condition` every 10 ms; throws after `attempts` (no timing is asserted, this only bounds the wait). */
async function until(condition: () => boolean, what: string, attempts = 3000): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never: ${what}`);
}

describe('in-memory SQLite', () => {
  let t: TestKeygate;
  let url: string;
  beforeAll(async () => {
    t = await startTestKeygate();
    url = await serve(t);
  });

  it('reads on the main connection (no other process can open it), so there a heavy read stalls every request', async () => {
    // The twin of the shared test: the same heavy read where it blocks the event loop, to show what the readers prevent.
    expect(t.keygate.deps.reads.pool).toBeNull();
    const tenant = await seedTenant(t);
    const server = { url };
    const restore = await slowKeyReads(t.keygate.deps.db, 'heavy');
    try {
      const run = await besideHeavyRead(server.url, tenant.owner.token, t.keygate.deps.reads, () =>
        graphqlOver(server.url, tenant.owner.token)(KEYS_QUERY, { env: tenant.dev.id }),
      );
      console.log(
        `[sqlite :memory:] beside a heavy apiKeys read on the main connection: ${run.viewerCalls} viewer calls (p99 ${run.viewerP99.toFixed(1)} ms), ${run.viewerInsideRead} inside a heavy statement`,
      );
      expect(run.heavy.body.data.apiKeys.totalCount).toBe(2);
      expect(run.viewerInsideRead).toBe(0);
      expect(run.healthInsideRead).toBe(0);
    } finally {
      await restore();
    }
  });
});

describe('a reader whose read passes its deadline', () => {
  let t: TestKeygate;
  beforeAll(async () => {
    t = await fileKeygate({ statementTimeoutMs: 1000, sqliteReaders: 1 });
  });

  it('is killed, the read answered ReadTimedOut, and a replacement started at once', async () => {
    const { reads } = t.keygate.deps;
    const pool = poolOf(t);
    expect(await reads.execute(counting(t, 10))).toEqual([{ n: 10 }]);
    const [stuck] = pool.pids;
    const failure = await reads.execute(counting(t, 1e12)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ReadTimedOut);
    expect(failure).toBeInstanceOf(DependencyUnavailable);
    expect((failure as DependencyUnavailable).dependency).toBe('database');
    // Really stopped, not left counting: SIGKILL ends a process inside SQLite, where Worker.terminate() would wait.
    await until(() => isGone(stuck!), 'the stuck reader is gone');
    expect(pool.stats).toMatchObject({ timedOut: 1, readersStarted: 2 });
    expect(pool.pids).toHaveLength(1);
    expect(pool.pids).not.toContain(stuck);
    expect(await reads.execute(counting(t, 1000))).toEqual([{ n: 1000 }]);
  });
});

describe('a full read queue', () => {
  let t: TestKeygate;
  let url: string;
  beforeAll(async () => {
    t = await fileKeygate({ statementTimeoutMs: 5000, sqliteReaders: 1, sqliteReadQueue: 1 });
    url = await serve(t);
  });

  it('refuses one more read at once, over HTTP with a coded 503, and what it holds is answered in turn', async () => {
    const tenant = await seedTenant(t);
    const { reads } = t.keygate.deps;
    const pool = poolOf(t);
    expect(await reads.execute(counting(t, 10))).toEqual([{ n: 10 }]);
    const pending = (p: Promise<unknown>) => {
      const state = { done: false, result: p };
      void p.finally(() => {
        state.done = true;
      });
      return state;
    };
    // The one reader is busy until the deadline kills it; the first request's list read takes the one queue place.
    const stuck = pending(reads.execute(counting(t, 1e12)).catch((error: unknown) => error));
    const graphql = graphqlOver(url, tenant.owner.token);
    const queued = pending(graphql(KEYS_QUERY, { env: tenant.dev.id }));
    await until(() => reads.stats.sent - reads.stats.answered === 2, 'the list read is queued');
    const refused = await graphql(KEYS_QUERY, { env: tenant.dev.id });
    expect({ stuck: stuck.done, queued: queued.done }).toEqual({ stuck: false, queued: false });
    expect(refused.status).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL']);
    expect(pool.stats.refused).toBe(1);
    expect(await stuck.result).toBeInstanceOf(ReadTimedOut);
    const answered = (await queued.result) as Awaited<ReturnType<typeof graphql>>;
    expect(answered.status).toBe(200);
    expect(answered.body.data.apiKeys.totalCount).toBe(2);
  });
});

describe('a reader', () => {
  let t: TestKeygate;
  beforeAll(async () => {
    t = await fileKeygate({ statementTimeoutMs: 60_000, sqliteReaders: 1 });
  });

  it('that dies fails only the read it held, and the next read gets a new reader', async () => {
    const { reads } = t.keygate.deps;
    const pool = poolOf(t);
    expect(await reads.execute(counting(t, 10))).toEqual([{ n: 10 }]);
    const [reader] = pool.pids;
    const held = reads.execute(counting(t, 1e12)).catch((error: unknown) => error);
    await until(() => reads.stats.sent > reads.stats.answered, 'the read is running');
    process.kill(reader!, 'SIGKILL');
    const failure = await held;
    expect(failure).toBeInstanceOf(DependencyUnavailable);
    expect((failure as Error).message).toBe('A reader process stopped.');
    expect(await reads.execute(counting(t, 100))).toEqual([{ n: 100 }]);
    expect(pool.pids).not.toContain(reader);
  });

  it('cannot write: a statement without rows is refused, and one with rows meets a read-only connection', async () => {
    await seedTenant(t);
    const { reads, db } = t.keygate.deps;
    const count = async () => Number((await sql<{ n: number }>`select count(*) as n from api_keys`.execute(db)).rows[0]!.n);
    const before = await count();
    await expect(reads.execute(sql`delete from api_keys`.compile(db))).rejects.toThrow(
      'A reader runs only statements that return rows.',
    );
    await expect(reads.execute(sql`delete from api_keys returning id`.compile(db))).rejects.toMatchObject({
      code: 'SQLITE_READONLY',
    });
    expect(await count()).toBe(before);
  });
});

describe('keygate serve, built', () => {
  it('runs its reads in reader processes beside the bundle, and stops them when it stops', async () => {
    const { env } = await processEnv('readers');
    const { stdout } = await keygateCommand(
      env,
      'bootstrap',
      '--account',
      'Readers',
      '--plan',
      'SCALE',
      '--owner',
      'r@keygate.test',
      '--json',
    );
    const tenant = JSON.parse(stdout.trim().split('\n').at(-1)!);
    const server = await startServeProcess(env);
    const pid = server.child.pid!;
    const reply = await graphqlOver(server.url, tenant.owner.token)(KEYS_QUERY, { env: tenant.environments[0].id });
    expect(reply.body).toEqual({ data: { apiKeys: expect.objectContaining({ totalCount: 2 }) } });
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    const readers = children.filter((child) =>
      readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('keygate-read-worker.mjs'),
    );
    expect(readers.length).toBeGreaterThan(0);
    expect(await server.stop()).toBe(0);
    await until(() => readers.every(isGone), 'the readers are gone');
  });
});

/** Serves a test Keygate over real HTTP until the file ends; returns its URL. */
async function serve(t: TestKeygate): Promise<string> {
  const server = await startServer(t.keygate, { port: 0, host: '127.0.0.1' });
  afterAll(() => new Promise<void>((resolve) => server.server.close(() => resolve())));
  return server.url;
}
