import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { CONSOLE_DIST_DIR } from './console/console.plugin.js';
import { packageRoot } from './shared/package-root.js';

const root = packageRoot();

/** The compiled server and CLI: what `bin/keygate.js` runs once it is built and up to date. */
export const SERVER_BUNDLE = path.join(root, 'dist/keygate.mjs');

/**
 * Bundles a Node entry point (Keygate's own TypeScript, compiled ahead of
 * time; packages stay external). Serving compiled JavaScript keeps a
 * TypeScript loader off the request path and out of memory.
 */
export async function buildNodeBundle(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

/** Bundles the console (TypeScript and CSS) for the browser into dist/console, with its HTML page. */
export async function buildConsole(outDir = CONSOLE_DIST_DIR): Promise<void> {
  const source = path.join(root, 'src/console');
  await mkdir(path.join(outDir, 'assets'), { recursive: true });
  await build({
    entryPoints: { console: path.join(source, 'main.ts') },
    outdir: path.join(outDir, 'assets'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  await copyFile(path.join(source, 'index.html'), path.join(outDir, 'index.html'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await Promise.all([buildNodeBundle(path.join(root, 'src/cli.ts'), SERVER_BUNDLE), buildConsole()]);
  console.log(
    `Built ${path.relative(process.cwd(), SERVER_BUNDLE)} and the console in ${path.relative(process.cwd(), CONSOLE_DIST_DIR)}/`,
  );
}
