import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type Compilable,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type DialectAdapter,
  type Driver,
  Kysely,
  type Dialect as KyselyDialect,
  type LogConfig,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { DependencyUnavailable } from '../shared/errors.js';
import type { Dialect } from './connect.js';
import type { Database } from './database.js';

/**
 * Where the heavy reads run: list pages and their counts, whose cost grows
 * with the data. better-sqlite3 is synchronous, so a long SELECT on the main
 * connection stops every other request until it ends; on a SQLite file these
 * reads go to reader processes instead (ReaderPool), each with its own
 * read-only connection (WAL lets readers and the writer work at once). On
 * PostgreSQL they run on the pool as any query does (it never blocks the
 * event loop; the statement timeout bounds them). An in-memory SQLite
 * database exists only inside its own connection, which no other process
 * can open, so its reads stay on the main connection (tests use it, never a
 * deployment).
 *
 * Repositories opt in by building their query on `reads.db` (the request
 * context's `ctx.reads`) instead of `db`, or by handing a built query to
 * `reads.all()`. Only SELECTs: reads have no transactions, and a reader's
 * connection cannot write.
 */
export class Reads {
  /** A Kysely whose queries run as reads: build SELECTs on it as on `deps.db`. */
  readonly db: Kysely<Database>;
  /** Reads sent and answered (rows or an error) so far: tests prove a repository opted in, and when a read runs. */
  readonly stats = { sent: 0, answered: 0 };

  constructor(
    private readonly executor: ReadExecutor,
    dialect: Dialect,
    log?: LogConfig,
  ) {
    this.db = new Kysely<Database>({ dialect: readsDialect(this, dialect), log });
  }

  /** The reader processes, or null where reads run on the main database (PostgreSQL, in-memory SQLite). */
  get pool(): ReaderPool | null {
    return this.executor instanceof ReaderPool ? this.executor : null;
  }

  /** Runs one compiled SELECT and returns its rows. */
  async execute<R>(query: CompiledQuery<R>): Promise<R[]> {
    // One rule on every dialect, though only a SQLite reader's connection could not write anyway. Raw SQL is the caller's word.
    if (!READ_KINDS.has(query.query.kind)) throw new Error(`Reads run only SELECTs, not a ${query.query.kind}.`);
    this.stats.sent++;
    try {
      return (await this.executor.execute(query)) as R[];
    } finally {
      this.stats.answered++;
    }
  }

  /** Runs a SELECT built on any Kysely of Keygate's database (`db.selectFrom(…)`) as a read. */
  all<R>(query: Compilable<R>): Promise<R[]> {
    return this.execute(query.compile());
  }

  close(): Promise<void> {
    return this.executor.close();
  }
}

/** The statements Reads runs: built SELECTs, and raw SQL (sql`…`) for what the builder cannot say. */
const READ_KINDS: ReadonlySet<string> = new Set(['SelectQueryNode', 'RawNode']);

/** What runs a read: the reader pool, or the main database. */
export interface ReadExecutor {
  execute(query: CompiledQuery): Promise<unknown[]>;
  close(): Promise<void>;
}

/** Reads on the main database itself: the PostgreSQL pool, or an in-memory SQLite connection. */
export function onMainDatabase(db: Kysely<Database>): ReadExecutor {
  return {
    execute: async (query) => (await db.executeQuery(query)).rows,
    close: async () => {},
  };
}

/** A read that ran, or waited for a reader, longer than the statement timeout: answered 503 (error funnel). */
export class ReadTimedOut extends DependencyUnavailable {
  constructor(message: string) {
    super('database', message);
  }
}

/** More reads waiting than the queue holds: refused at once, 503 with Retry-After, rather than queued without end. */
export class ReadQueueFull extends DependencyUnavailable {
  constructor(limit: number) {
    super('database', `${limit} reads are already waiting for a reader.`);
  }
}

/** What the parent sends a reader process (read-worker.ts). */
export type ReaderRequest =
  | { type: 'open'; file: string }
  | { type: 'read'; id: number; sql: string; parameters: readonly unknown[] };

/** What a reader process answers. */
export type ReaderReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'rows'; id: number; rows: unknown[] }
  | { type: 'error'; id: number; message: string; code?: string };

/** The built reader's file name: build.ts writes it beside every Node bundle, where reader.ts looks for it. */
export const READ_WORKER_BUNDLE = 'keygate-read-worker.mjs';

/**
 * The reader's entry and Node flags. Built, it sits beside the bundle this
 * module was compiled into; from the sources (tsx, vitest), it is the
 * TypeScript file beside this one, run through tsx's loader.
 */
function readerEntry(): { file: string; execArgv: string[] } {
  if (import.meta.url.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    return { file: fileURLToPath(new URL('./read-worker.ts', import.meta.url)), execArgv: ['--import', tsx] };
  }
  return { file: fileURLToPath(new URL(`./${READ_WORKER_BUNDLE}`, import.meta.url)), execArgv: [] };
}

export interface ReaderPoolOptions {
  /** The SQLite file (the main connection has made it and set WAL). */
  file: string;
  /** Reader processes at most, each with one read-only connection; started when reads need them. */
  readers: number;
  /** Reads that may wait for a free reader; one more is refused at once (ReadQueueFull). */
  queueLimit: number;
  /**
   * Longest a read may run, and longest it may wait behind busy readers,
   * before it is answered ReadTimedOut. Waiting for a reader to start is
   * bounded apart (READER_START_TIMEOUT_MS): it is Keygate's own delay, and
   * from the sources (tsx) a start takes about a second.
   */
  statementTimeoutMs: number;
}

/** How long a reader may take to start and open the database before it is killed and what waits is refused. */
const READER_START_TIMEOUT_MS = 30_000;

interface Job {
  id: number;
  query: CompiledQuery;
  resolve(rows: unknown[]): void;
  reject(error: Error): void;
  waitTimer?: NodeJS.Timeout;
}

interface Reader {
  child: ChildProcess;
  ready: boolean;
  job: Job | null;
  startTimer?: NodeJS.Timeout;
  runTimer?: NodeJS.Timeout;
  /** Settles when the process has gone, however it went. */
  exited: Promise<void>;
}

/**
 * Reader processes for SQLite's heavy reads, a bounded queue in front of
 * them and a deadline on each read. Processes, not worker threads: a
 * statement inside SQLite cannot be interrupted from outside through
 * better-sqlite3, and Worker.terminate() waits for it to end (measured: a
 * 29-second count went on for all of its 29 seconds), while SIGKILL ends a
 * process at once. A read-only connection killed mid-read loses nothing, so
 * a read past its deadline kills its reader and a fresh one starts at once.
 * Readers start when reads first wait for one (a CLI command starts none);
 * each costs about 50 MB of memory and 0.3 ms per read (IPC).
 */
export class ReaderPool implements ReadExecutor {
  /** Reader processes started, reads refused for a full queue, reads past their deadline (running or waiting). */
  readonly stats = { readersStarted: 0, refused: 0, timedOut: 0 };
  readonly #readers = new Set<Reader>();
  readonly #queue: Job[] = [];
  readonly #entry = readerEntry();
  #nextId = 0;
  #closed = false;

  constructor(private readonly options: ReaderPoolOptions) {}

  /** Process ids of the live readers (tests check a stopped one is really gone). */
  get pids(): number[] {
    return [...this.#readers].flatMap((r) => (r.child.pid === undefined ? [] : [r.child.pid]));
  }

  execute(query: CompiledQuery): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new DependencyUnavailable('database', 'The readers are closed.'));
      const job: Job = { id: ++this.#nextId, query, resolve, reject };
      const idle = this.#idleReader();
      if (idle) return this.#run(idle, job);
      if (this.#queue.length >= this.options.queueLimit) {
        this.stats.refused++;
        return reject(new ReadQueueFull(this.options.queueLimit));
      }
      job.waitTimer = setTimeout(() => this.#stopWaiting(job), this.options.statementTimeoutMs);
      this.#queue.push(job);
      this.#grow();
    });
  }

  /** Refuses what waits, stops every reader (their connections only read) and waits until they are gone. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new DependencyUnavailable('database', 'The readers are closed.');
    for (const job of this.#queue.splice(0)) this.#settle(job, closed);
    const exits = [...this.#readers].map((reader) => {
      if (reader.job) this.#settle(reader.job, closed);
      this.#forget(reader);
      reader.child.kill('SIGKILL');
      return reader.exited;
    });
    await Promise.all(exits);
  }

  #idleReader(): Reader | undefined {
    for (const reader of this.#readers) if (reader.ready && !reader.job) return reader;
    return undefined;
  }

  /** Starts a reader when reads wait that the readers starting will not take, up to the bound. */
  #grow(): void {
    const starting = [...this.#readers].filter((r) => !r.ready).length;
    if (this.#queue.length > starting && this.#readers.size < this.options.readers) this.#start();
  }

  #dispatch(): void {
    for (let idle = this.#idleReader(); idle && this.#queue.length > 0; idle = this.#idleReader()) {
      this.#run(idle, this.#queue.shift()!);
    }
    this.#grow();
  }

  #start(): void {
    this.stats.readersStarted++;
    const child = fork(this.#entry.file, [], {
      execArgv: this.#entry.execArgv,
      serialization: 'advanced',
      // No environment: a reader needs none, so Keygate's secrets never reach it.
      env: {},
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const reader: Reader = { child, ready: false, job: null, exited };
    reader.startTimer = setTimeout(() => child.kill('SIGKILL'), READER_START_TIMEOUT_MS);
    this.#readers.add(reader);
    child.on('message', (reply: ReaderReply) => this.#onReply(reader, reply));
    // A reader that dies (a crash, the OOM killer, a failed open) fails only what it held.
    void exited.then(() => this.#onExit(reader));
    this.#send(reader, { type: 'open', file: this.options.file });
  }

  #send(reader: Reader, request: ReaderRequest): void {
    // A reader that went away meanwhile fails its read through #onExit; the send error adds nothing.
    reader.child.send(request, () => {});
  }

  #run(reader: Reader, job: Job): void {
    clearTimeout(job.waitTimer);
    reader.job = job;
    keepAlive(reader.child, true);
    reader.runTimer = setTimeout(() => this.#stopRunning(reader), this.options.statementTimeoutMs);
    this.#send(reader, { type: 'read', id: job.id, sql: job.query.sql, parameters: job.query.parameters });
  }

  #onReply(reader: Reader, reply: ReaderReply): void {
    if (!this.#readers.has(reader)) return;
    if (reply.type === 'failed') {
      // It cannot open the database: neither could the next one, so what waits is answered now (the exit follows).
      const failure = new DependencyUnavailable('database', `A reader cannot open the database: ${reply.message}`);
      for (const job of this.#queue.splice(0)) this.#settle(job, failure);
      return;
    }
    if (reply.type === 'ready') {
      clearTimeout(reader.startTimer);
      reader.ready = true;
      keepAlive(reader.child, false);
      this.#dispatch();
      return;
    }
    const job = reader.job;
    if (!job || job.id !== reply.id) return;
    clearTimeout(reader.runTimer);
    reader.job = null;
    keepAlive(reader.child, false);
    if (reply.type === 'rows') job.resolve(reply.rows);
    else job.reject(Object.assign(new Error(reply.message), { name: 'SqliteError', code: reply.code }));
    this.#dispatch();
  }

  /** A read past its deadline: its reader is killed (nothing else interrupts SQLite) and the read answered. */
  #stopRunning(reader: Reader): void {
    const job = reader.job;
    if (!job) return;
    this.stats.timedOut++;
    this.#forget(reader);
    reader.child.kill('SIGKILL');
    this.#settle(job, new ReadTimedOut(`A read ran longer than ${this.options.statementTimeoutMs} ms; its reader was stopped.`));
    // Replaced at once, so the next read does not wait for a start.
    if (!this.#closed) this.#start();
    this.#dispatch();
  }

  #stopWaiting(job: Job): void {
    const at = this.#queue.indexOf(job);
    if (at < 0) return;
    if ([...this.#readers].some((r) => !r.ready)) {
      // A reader starting will take it; the start has its own bound.
      job.waitTimer = setTimeout(() => this.#stopWaiting(job), this.options.statementTimeoutMs);
      return;
    }
    this.#queue.splice(at, 1);
    this.stats.timedOut++;
    this.#settle(job, new ReadTimedOut(`No reader was free within ${this.options.statementTimeoutMs} ms.`));
  }

  #onExit(reader: Reader): void {
    if (!this.#readers.has(reader)) return;
    this.#forget(reader);
    if (reader.job) this.#settle(reader.job, new DependencyUnavailable('database', 'A reader process stopped.'));
    if (!reader.ready) {
      // It never started (it could not open the database, or took too long): the next would fare no better.
      const failure = new DependencyUnavailable('database', 'A reader process could not start.');
      for (const job of this.#queue.splice(0)) this.#settle(job, failure);
    }
    if (!this.#closed) this.#dispatch();
  }

  /** Takes a reader out of the pool; a replacement may start at once. */
  #forget(reader: Reader): void {
    this.#readers.delete(reader);
    clearTimeout(reader.startTimer);
    clearTimeout(reader.runTimer);
  }

  #settle(job: Job, error: Error): void {
    clearTimeout(job.waitTimer);
    job.reject(error);
  }
}

/**
 * An idle reader must not keep Keygate's process alive (a CLI command ends
 * when its work does); a busy one must, or a command awaiting a read could
 * exit before the answer.
 */
function keepAlive(child: ChildProcess, on: boolean): void {
  if (on) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

/** Kysely over Reads: queries compile for the database's dialect and run through Reads.execute(). */
function readsDialect(reads: Reads, dialect: Dialect): KyselyDialect {
  const connection: DatabaseConnection = {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      return { rows: (await reads.execute(query)) as R[] };
    },
    // biome-ignore lint/correctness/useYield: refusing is all it does.
    async *streamQuery() {
      throw new Error('Reads are not streamed: page them.');
    },
  };
  const outsideTransactions = async () => {
    throw new Error('Reads run outside transactions: use deps.db for a transaction.');
  };
  const driver: Driver = {
    init: async () => {},
    acquireConnection: async () => connection,
    beginTransaction: outsideTransactions,
    commitTransaction: outsideTransactions,
    rollbackTransaction: outsideTransactions,
    releaseConnection: async () => {},
    destroy: async () => {},
  };
  const [adapter, compiler, introspector]: [
    () => DialectAdapter,
    () => QueryCompiler,
    (db: Kysely<unknown>) => DatabaseIntrospector,
  ] =
    dialect === 'postgres'
      ? [() => new PostgresAdapter(), () => new PostgresQueryCompiler(), (db) => new PostgresIntrospector(db)]
      : [() => new SqliteAdapter(), () => new SqliteQueryCompiler(), (db) => new SqliteIntrospector(db)];
  return {
    createAdapter: adapter,
    createDriver: () => driver,
    createQueryCompiler: compiler,
    createIntrospector: introspector,
  };
}
