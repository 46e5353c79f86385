import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { CONSOLE_DIST_DIR } from './console.plugin.js';

const here = import.meta.dirname;

/** Bundles the console (TypeScript and CSS) for the browser into dist/console, with its HTML page. */
export async function buildConsole(outDir = CONSOLE_DIST_DIR): Promise<void> {
  await mkdir(path.join(outDir, 'assets'), { recursive: true });
  await build({
    entryPoints: { console: path.join(here, 'main.ts') },
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
  await copyFile(path.join(here, 'index.html'), path.join(outDir, 'index.html'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildConsole();
  console.log(`Console built into ${path.relative(process.cwd(), CONSOLE_DIST_DIR)}/`);
}
