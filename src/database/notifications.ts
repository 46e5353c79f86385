import { type Kysely, sql, type Transaction } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './database.js';

/** A channel's subscriber: its messages, and word that messages may have been missed. */
export interface ChannelSubscriber {
  /** A message sent on the channel (by any instance, this one included). */
  message(payload: string): void;
  /** The connection was lost: until `restored`, nothing is heard. */
  lost(): void;
  /** Listening again; anything sent while it was lost is gone. */
  restored(): void;
}

export interface NotificationsOptions {
  /** How often the LISTEN connection is asked to answer (default 5 s). */
  heartbeatMs?: number;
  /** How long an answer may take before the connection counts as lost (default 3 s). */
  heartbeatTimeoutMs?: number;
}

/**
 * Cross-instance notifications over one PostgreSQL LISTEN connection
 * (key changes, upstream reloads): one dedicated connection for every
 * channel, reconnected by itself, with subscribers told when they may have
 * missed messages. A connection can die without a word (a network that
 * drops packets closes nothing), so a heartbeat asks it to answer every few
 * seconds; one that does not answer in time counts as lost. On SQLite there
 * is one instance, so there is nothing to hear and `notify` is a no-op.
 */
export class Notifications {
  readonly #subscribers = new Map<string, ChannelSubscriber>();
  #client: pg.Client | null = null;
  #retry: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(
    private readonly connect: (() => Promise<pg.Client>) | undefined,
    private readonly logger: Logger,
    private readonly options: NotificationsOptions = {},
  ) {}

  /** Whether other instances exist to hear from (PostgreSQL). */
  get shared(): boolean {
    return this.connect !== undefined;
  }

  /** Subscribes to a channel; call before `start`. */
  subscribe(channel: string, subscriber: ChannelSubscriber): void {
    this.#subscribers.set(channel, subscriber);
  }

  /** Sends a message to every instance, when `db` (a transaction: when it commits) does. */
  async notify(db: Kysely<Database> | Transaction<Database>, channel: string, payload: string): Promise<void> {
    if (this.shared) await sql`select pg_notify(${channel}, ${payload})`.execute(db);
  }

  /** Starts listening (PostgreSQL only); reconnects by itself after a loss. */
  async start(): Promise<void> {
    if (!this.connect || this.#closed) return;
    try {
      const client = await this.connect();
      client.on('notification', (n) => {
        if (n.payload) this.#subscribers.get(n.channel)?.message(n.payload);
      });
      client.on('error', (err) => this.lost(err));
      client.on('end', () => this.lost(new Error('LISTEN connection ended')));
      for (const channel of this.#subscribers.keys()) await client.query(`listen ${channel}`);
      this.#client = client;
      this.#heartbeat = setInterval(() => this.beat(client), this.options.heartbeatMs ?? 5000);
      this.#heartbeat.unref?.();
      for (const subscriber of this.#subscribers.values()) subscriber.restored();
    } catch (err) {
      this.lost(err);
    }
  }

  /** One heartbeat: the connection answers in time, or it is lost (and replaced). */
  private beat(client: pg.Client): void {
    const late = setTimeout(() => {
      if (this.#client === client) this.lost(new Error('LISTEN connection did not answer a heartbeat'));
    }, this.options.heartbeatTimeoutMs ?? 3000);
    late.unref?.();
    client.query('select 1').then(
      () => clearTimeout(late),
      (err) => {
        clearTimeout(late);
        if (this.#client === client) this.lost(err);
      },
    );
  }

  private stopHeartbeat(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  private lost(err: unknown): void {
    if (this.#closed || this.#retry) return;
    this.stopHeartbeat();
    for (const subscriber of this.#subscribers.values()) subscriber.lost();
    this.#client?.removeAllListeners();
    this.#client?.end().catch(() => {});
    this.#client = null;
    this.logger.warn({ err }, 'cross-instance notifications lost; reconnecting');
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.start();
    }, 1000);
    this.#retry.unref?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.stopHeartbeat();
    if (this.#retry) clearTimeout(this.#retry);
    this.#client?.removeAllListeners();
    await this.#client?.end().catch(() => {});
    this.#client = null;
  }
}
