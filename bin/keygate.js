#!/usr/bin/env node
// Runs the compiled CLI, dist/keygate.mjs. `npm run build` makes it (`npm install`
// runs that through `prepare`); the TypeScript sources run only when asked
// for: `npm run dev`, or `npx tsx src/cli.ts <command>`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/keygate.mjs', import.meta.url);

if (!existsSync(fileURLToPath(bundle))) {
  console.error(
    [
      `keygate: ${fileURLToPath(bundle)} is missing: build it with \`npm run build\`.`,
      'The build needs the devDependencies (tsx, esbuild), which an install without them',
      '(npm ci --omit=dev) lacks: build first, then drop them (npm prune --omit=dev).',
      'To run the TypeScript sources instead: `npm run dev`.',
    ].join('\n'),
  );
  process.exit(1);
}
await import(bundle.href);
