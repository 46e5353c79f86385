import { defineConfig } from 'vitest/config';

export default defineConfig({
  // One graphql instance for everyone (its ESM and CJS builds must not mix).
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
