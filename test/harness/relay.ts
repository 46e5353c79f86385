import net from 'node:net';

/**
 * A TCP relay in front of PostgreSQL that a test can break the ways networks
 * do: `cut` drops every connection (the database is gone, and says so),
 * `blackhole` keeps every connection open but lets nothing through (packets
 * dropped: nobody is told), `heal` forwards again for new connections.
 */
export class Relay {
  private server: net.Server | null = null;
  private sockets = new Set<net.Socket>();
  private swallowing = false;
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}

  async start(port = 0): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      // Each connection lives or dies with the relay's mode at the time its bytes arrive.
      const forward = (from: net.Socket, to: net.Socket) => {
        from.on('data', (chunk) => {
          if (!this.swallowing) to.write(chunk);
        });
        from.on('end', () => to.end());
      };
      forward(client, upstream);
      forward(upstream, client);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every connection and stops listening: the database is gone. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Lets nothing through in either direction, closing nothing: a silent network failure. */
  blackhole(): void {
    this.swallowing = true;
  }

  /** Forwards again; connections that lost bytes meanwhile are broken and should be dropped. */
  heal(): void {
    this.swallowing = false;
    for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
