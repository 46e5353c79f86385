import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * WAL checkpoints off the event loop. SQLite copies the write-ahead log back
 * into the database file (a checkpoint) inside the commit that pushes the log
 * past 1,000 pages, on the connection that made it: on Keygate's main
 * connection, within better-sqlite3's synchronous call, so every request
 * waits while it runs (measured on a 500-row activity delete: the statement
 * itself 1 ms, a commit that checkpoints 5-12 ms). The main connection turns
 * that off (`wal_autocheckpoint = 0`) and a worker thread with its own
 * connection runs a PASSIVE checkpoint every `intervalMs` instead: a passive
 * checkpoint takes no lock that writers or readers wait on. Should the log
 * still grow past `restartPages` (a checkpoint that kept losing the race to
 * new writes), the worker runs a RESTART checkpoint, which waits for the
 * writer and starts the log over. If the worker stops or cannot start, the
 * main connection checkpoints for itself again, as SQLite does by default.
 *
 * A worker thread, not a process like the readers (reader.ts): a checkpoint
 * never needs interrupting (its work is bounded by the log), and a thread
 * costs a few megabytes where a process costs fifty. Its code is a string
 * evaluated in the thread, so it runs the same from the TypeScript sources
 * (vitest, tsx), which a worker cannot load, and from the built bundle; it
 * loads only better-sqlite3, resolved here.
 */
export class Checkpointer {
  /** What the worker did: checkpoints that moved pages, the pages moved, restarts, and whether it runs. */
  readonly stats = { checkpoints: 0, pages: 0, restarts: 0, running: false };
  /** Pages of the log not yet copied into the database file, as the worker last saw them. */
  backlog = 0;
  readonly #worker: Worker;
  readonly #waiting = new Set<() => void>();
  #closed = false;

  constructor(
    private readonly sqlite: BetterSqlite3.Database,
    file: string,
    { intervalMs = CHECKPOINT_INTERVAL_MS, restartPages = RESTART_PAGES } = {},
  ) {
    // The log file is cut back to this size when the main connection starts it over, so one burst does not keep it large.
    sqlite.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file, intervalMs, restartPages },
      // Nothing of Keygate's environment (its secrets) reaches the thread.
      env: {},
      stdout: false,
      stderr: false,
    });
    this.#worker.unref();
    this.#worker.on('message', (message: WorkerMessage) => this.#onMessage(message));
    // A failed open or a crash: SQLite's own checkpoints come back on the main connection.
    this.#worker.on('error', () => this.#fallBack());
    this.#worker.on('exit', () => this.#fallBack());
  }

  #onMessage(message: WorkerMessage): void {
    if (message.type === 'ready') {
      // From now on the worker checkpoints: the main connection's commits no longer do.
      if (!this.#closed) this.sqlite.pragma('wal_autocheckpoint = 0');
      this.stats.running = true;
      return;
    }
    if (message.pages > 0) {
      this.stats.checkpoints++;
      this.stats.pages += message.pages;
    }
    if (message.restart) this.stats.restarts++;
    this.backlog = message.backlog;
    if (this.backlog <= CAUGHT_UP_PAGES) this.#release();
  }

  /**
   * Resolves once the worker has copied the log back to at most a few
   * pages, or after `timeoutMs`. A writer that writes without pause (the
   * retention worker's delete batches) waits on it when the backlog grows,
   * so the log can be caught up and start over: a passive checkpoint never
   * catches a log that grows while it copies.
   */
  caughtUp(timeoutMs: number): Promise<void> {
    if (!this.stats.running || this.backlog <= CAUGHT_UP_PAGES) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiting.add(done);
    });
  }

  #release(): void {
    for (const done of [...this.#waiting]) done();
  }

  #fallBack(): void {
    this.stats.running = false;
    this.#release();
    if (!this.#closed && this.sqlite.open) this.sqlite.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
  }

  /** Stops the worker (a checkpoint cut short loses nothing: the log stays authoritative until one completes). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#release();
    await this.#worker.terminate();
    this.stats.running = false;
  }
}

/** How often the worker checkpoints. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * A log this long (256 MB of 4 KB pages) is started over by a RESTART
 * checkpoint, which makes writers wait while it ends (about 20 ms): the
 * bound for a writer that never pauses and never waits on caughtUp().
 */
const RESTART_PAGES = 65_536;
/** What caughtUp() takes for caught up: the few pages a request's write adds meanwhile. */
const CAUGHT_UP_PAGES = 64;
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** SQLite's default wal_autocheckpoint, restored when the worker is gone. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

type WorkerMessage = { type: 'ready' } | { type: 'checkpointed'; pages: number; backlog: number; restart: boolean };

/** The worker thread (see the class comment for why it is a string). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
// A RESTART checkpoint waits for the writer this long at most; a passive one never waits.
db.pragma('busy_timeout = 1000');
parentPort.postMessage({ type: 'ready' });
// Frames of the log already copied (SQLite reports the total, not what one checkpoint moved), and the last backlog told.
let copied = 0;
let told = 0;
// A tick that fails (a RESTART that waited past busy_timeout, another process's checkpoint) is tried again on the
// next; one that keeps failing ends the thread, and the main connection checkpoints for itself again.
let failures = 0;
setInterval(() => {
  try {
    let [result] = db.pragma('wal_checkpoint(PASSIVE)');
    let restart = false;
    if (result.log >= workerData.restartPages) {
      [result] = db.pragma('wal_checkpoint(RESTART)');
      restart = true;
    }
    // A log shorter than what was copied has started over.
    if (result.checkpointed < copied || result.log < copied) copied = 0;
    const pages = result.checkpointed - copied;
    copied = result.checkpointed;
    const backlog = Math.max(0, result.log - result.checkpointed);
    if (pages > 0 || restart || backlog !== told) parentPort.postMessage({ type: 'checkpointed', pages, backlog, restart });
    told = backlog;
    failures = 0;
  } catch {
    if (++failures >= 10) process.exit(1);
  }
}, workerData.intervalMs);
`;
