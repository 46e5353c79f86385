/**
 * A reader process (see reader.ts): one read-only connection to Keygate's
 * SQLite file, running the SELECTs its parent sends, one at a time. It
 * imports nothing of Keygate's but the statement cache, so it starts fast
 * and holds little memory; it never logs (rows may hold encrypted secrets).
 */
import Database from 'better-sqlite3';
import type { ReaderReply, ReaderRequest } from './reader.js';
import { cachedPrepare } from './statement-cache.js';

const send = (reply: ReaderReply) => process.send?.(reply);

// The parent is gone (exited, killed, or closed the pool): nothing is left to answer.
process.on('disconnect', () => process.exit(0));

let prepare: ((sql: string) => Database.Statement) | null = null;

process.on('message', (request: ReaderRequest) => {
  if (request.type === 'open') {
    try {
      // Read-only: a write that reached a reader by mistake fails here instead of racing the main connection.
      const sqlite = new Database(request.file, { readonly: true, fileMustExist: true });
      sqlite.pragma('busy_timeout = 5000');
      prepare = cachedPrepare(sqlite);
      send({ type: 'ready' });
    } catch (error) {
      send({ type: 'failed', message: (error as Error).message });
      process.exit(1);
    }
    return;
  }
  try {
    if (!prepare) throw new Error('The reader has no database open.');
    const statement = prepare(request.sql);
    if (!statement.reader) throw new Error('A reader runs only statements that return rows.');
    send({ type: 'rows', id: request.id, rows: statement.all(request.parameters) as unknown[] });
  } catch (error) {
    const { message, code } = error as { message: string; code?: unknown };
    send({ type: 'error', id: request.id, message, code: typeof code === 'string' ? code : undefined });
  }
});
