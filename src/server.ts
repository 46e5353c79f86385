import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Keygate } from './app.js';

export interface RunningServer {
  server: Server;
  url: string;
  /** Stops accepting, lets in-flight requests finish, then closes Keygate. */
  stop(): Promise<void>;
}

/** Starts HTTP in front of Keygate's Yoga handler; nothing else. */
export async function startServer(keygate: Keygate, options: { port: number; host?: string }): Promise<RunningServer> {
  const server = createServer(keygate.yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = !options.host || options.host === '::' || options.host === '0.0.0.0' ? 'localhost' : options.host;
  let stopping: Promise<void> | null = null;
  return {
    server,
    url: `http://${host}:${port}`,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await closed;
        await keygate.close();
      })();
      return stopping;
    },
  };
}
