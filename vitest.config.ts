import net from 'node:net';
import { defineConfig } from 'vitest/config';

const POSTGRES_URL = process.env.KEYGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether the PostgreSQL server for the second run of the suite answers on its port. */
function postgresReachable(): Promise<boolean> {
  const { hostname, port } = new URL(POSTGRES_URL);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 5432), timeout: 1500 });
    const done = (reachable: boolean) => {
      socket.destroy();
      resolve(reachable);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

// One folder per run for the end-of-run secret leak scan (test/harness/leak-scan.ts), shared by all workers.
process.env.KEYGATE_LEAK_SCAN_DIR ??= `test-output/leak-scan/${Date.now()}-${process.pid}`;

export default defineConfig(async () => {
  const postgres = process.env.KEYGATE_SKIP_POSTGRES !== '1' && (await postgresReachable());
  if (!postgres) {
    console.warn(
      `\n  PostgreSQL not reachable at ${new URL(POSTGRES_URL).host}: the PostgreSQL run of the suite is SKIPPED (only SQLite runs).\n`,
    );
  }
  const dialectProject = (name: 'sqlite' | 'postgres', exclude: string[]) => ({
    extends: true as const,
    test: {
      name,
      env: {
        KEYGATE_TEST_DIALECT: name,
        KEYGATE_TEST_POSTGRES_URL: POSTGRES_URL,
        KEYGATE_LEAK_SCAN_DIR: process.env.KEYGATE_LEAK_SCAN_DIR,
      },
      exclude: ['**/node_modules/**', ...exclude],
    },
  });
  return {
    // One graphql instance for everyone (its ESM and CJS builds must not mix).
    resolve: { alias: { graphql: 'graphql/index.js' } },
    test: {
      include: ['test/**/*.test.ts'],
      globalSetup: ['test/harness/leak-scan.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      // The whole suite runs once per dialect; dialect-only files are named *.sqlite.test.ts / *.postgres.test.ts.
      projects: [
        dialectProject('sqlite', ['test/**/*.postgres.test.ts']),
        ...(postgres ? [dialectProject('postgres', ['test/**/*.sqlite.test.ts'])] : []),
      ],
    },
  };
});
