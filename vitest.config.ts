import { defineConfig } from 'vitest/config';
import { sweepAbandonedSchemas } from './test/harness/database.js';
import { checkService } from './test/harness/services.js';

const POSTGRES_URL = process.env.KEYGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

// One folder per run for the end-of-run secret leak scan (test/harness/leak-scan.ts), shared by all workers.
process.env.KEYGATE_LEAK_SCAN_DIR ??= `test-output/leak-scan/${Date.now()}-${process.pid}`;

export default defineConfig(async () => {
  // Without PostgreSQL a developer's run is SQLite only, saying so; CI's fails here, before any test runs.
  const postgres = await checkService('PostgreSQL', POSTGRES_URL, 5432, 'the PostgreSQL run of the suite', {
    wanted: process.env.KEYGATE_SKIP_POSTGRES !== '1',
  });
  if (!postgres.skip) postgres.assertUp();
  // Schemas that killed test processes left behind slow every migration down: drop them first.
  if (postgres.up) await sweepAbandonedSchemas(POSTGRES_URL);
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
        ...(postgres.up ? [dialectProject('postgres', ['test/**/*.sqlite.test.ts'])] : []),
      ],
    },
  };
});
