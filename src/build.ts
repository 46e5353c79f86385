import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import type { Diagnostic } from 'typescript';
import { CONSOLE_DIST_DIR } from './console/console.plugin.js';
import { READ_WORKER_BUNDLE } from './database/reader.js';
import { packageRoot } from './shared/package-root.js';

const root = packageRoot();

/** The compiled server and CLI: what `bin/keygate.js` runs (it refuses to start without it). */
export const SERVER_BUNDLE = path.join(root, 'dist/keygate.mjs');

/** The compiled `keygate/client` (index.js, and its declarations in types/) that package.json exports. */
export const CLIENT_DIST_DIR = path.join(root, 'dist/client');

/**
 * Bundles a Node entry point (Keygate's own TypeScript, compiled ahead of
 * time; packages stay external). Serving compiled JavaScript keeps a
 * TypeScript loader off the request path and out of memory. The SQLite
 * reader process (database/read-worker.ts) is written beside every bundle,
 * where database/reader.ts looks for it. The metafile names the packages
 * the bundles import at run time.
 */
export async function buildNodeBundle(entry: string, outfile: string): Promise<Metafile> {
  // One extension for both: the reader's name is fixed (READ_WORKER_BUNDLE).
  if (!outfile.endsWith('.mjs')) throw new Error(`A Node bundle is an ES module file (.mjs): ${outfile}`);
  const name = (file: string) => path.basename(file, '.mjs');
  const { metafile } = await build({
    entryPoints: {
      [name(outfile)]: entry,
      [name(READ_WORKER_BUNDLE)]: path.join(root, 'src/database/read-worker.ts'),
    },
    outdir: path.dirname(outfile),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    metafile: true,
  });
  return metafile;
}

/** Writes a file whole or not at all: a reader (a Keygate serving it) never sees it half written. */
async function writeFileAtomically(file: string, contents: Uint8Array): Promise<void> {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

/**
 * Bundles the console (TypeScript and CSS) for the browser into dist/console,
 * with its HTML page. Each file is replaced atomically: test files build the
 * console while other test files' Keygates serve it.
 */
export async function buildConsole(outDir = CONSOLE_DIST_DIR): Promise<void> {
  const source = path.join(root, 'src/console');
  await mkdir(path.join(outDir, 'assets'), { recursive: true });
  const { outputFiles } = await build({
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
    write: false,
  });
  await Promise.all(outputFiles.map((file) => writeFileAtomically(file.path, file.contents)));
  await writeFileAtomically(path.join(outDir, 'index.html'), await readFile(path.join(source, 'index.html')));
}

/**
 * Compiles `keygate/client` for plain Node and bundlers: one ES module with
 * graphql left external (a consumer must share its graphql instance), and its
 * type declarations from tsconfig.client.json under `types/`.
 */
export async function buildClient(outDir = CLIENT_DIST_DIR): Promise<void> {
  // Nothing stale survives a file removed from src/client.
  await rm(outDir, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(root, 'src/client/index.ts')],
    outfile: path.join(outDir, 'index.js'),
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  await emitClientDeclarations(path.join(outDir, 'types'));
}

/** The client's .d.ts files; the whole client is type-checked first, so a declaration never ships a type error. */
async function emitClientDeclarations(outDir: string): Promise<void> {
  // TypeScript is a devDependency: an install without devDependencies (npm ci --omit=dev) still gets the JavaScript.
  const ts = await import('typescript').then(
    (module) => module.default,
    (error: { code?: string }) => {
      if (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'MODULE_NOT_FOUND') return null;
      throw error;
    },
  );
  if (!ts) {
    console.warn('TypeScript is not installed: keygate/client is built without its type declarations.');
    return;
  }
  const fail = (diagnostics: readonly Diagnostic[]): never => {
    const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    throw new Error(`keygate/client declarations:\n${ts.formatDiagnostics(diagnostics, host)}`);
  };
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.client.json'),
    { outDir },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (diagnostic) => fail([diagnostic]) },
  );
  if (!config) throw new Error('tsconfig.client.json could not be read.');
  if (config.errors.length > 0) fail(config.errors);
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0) fail(diagnostics);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await Promise.all([buildNodeBundle(path.join(root, 'src/cli.ts'), SERVER_BUNDLE), buildConsole(), buildClient()]);
  const relative = (file: string) => path.relative(process.cwd(), file);
  console.log(
    `Built ${relative(SERVER_BUNDLE)}, the console in ${relative(CONSOLE_DIST_DIR)}/ and keygate/client in ${relative(CLIENT_DIST_DIR)}/`,
  );
}
