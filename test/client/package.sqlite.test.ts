// `keygate/client` as another project gets it: a package holding only
// package.json and what `npm run build` compiles (no src/), next to the
// packages it needs. Dialect-independent, so it runs once (*.sqlite.test.ts).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClient } from '../../src/build.js';
import { packageRoot } from '../../src/shared/package-root.js';

const root = packageRoot();
let project: string;
let installed: string;

beforeAll(async () => {
  project = mkdtempSync(path.join(tmpdir(), 'keygate-consumer-'));
  installed = path.join(project, 'node_modules/keygate');
  mkdirSync(installed, { recursive: true });
  copyFileSync(path.join(root, 'package.json'), path.join(installed, 'package.json'));
  await buildClient(path.join(installed, 'dist/client'));
  // What an install puts beside keygate: its runtime dependencies, and a Node backend's own @types/node.
  for (const dependency of ['graphql', '@graphql-typed-document-node/core', '@types/node']) {
    mkdirSync(path.dirname(path.join(project, 'node_modules', dependency)), { recursive: true });
    symlinkSync(path.join(root, 'node_modules', dependency), path.join(project, 'node_modules', dependency), 'dir');
  }
}, 120_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

const PLAIN_NODE_SCRIPT = `
import { ApiKeysDocument, createCustomerToken, createKeygateClient, KeygateClientError, verifyCustomerToken } from 'keygate/client';

const token = createCustomerToken('cus_1', 'signing-secret', { expiresIn: '15m', now: new Date(0) });
const check = verifyCustomerToken(token, 'signing-secret', new Date(60_000));
const sent = [];
const client = createKeygateClient({
  url: 'http://keygate.test/graphql',
  apiKey: 'server-test',
  fetch: async (url, init) => {
    sent.push({ url, headers: init.headers, body: JSON.parse(init.body) });
    const body = { data: null, errors: [{ message: 'Not allowed.', extensions: { code: 'FORBIDDEN' } }] };
    return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
  },
});
let code = null;
try {
  await client.request(ApiKeysDocument, { first: 1 });
} catch (error) {
  code = error instanceof KeygateClientError ? error.code : String(error);
}
console.log(JSON.stringify({ check: { ...check, expiresAt: check.expiresAt?.toISOString() }, code, sent }));
`;

describe('keygate/client from an installed package', () => {
  it('runs in plain Node, without a TypeScript loader: tokens, a typed request and its coded error', async () => {
    writeFileSync(path.join(project, 'main.mjs'), PLAIN_NODE_SCRIPT);
    const { NODE_OPTIONS: _loaders, ...env } = process.env;
    const { stdout } = await promisify(execFile)(process.execPath, ['main.mjs'], { cwd: project, env });
    const out = JSON.parse(stdout);
    expect(out.check).toEqual({ ok: true, customerId: 'cus_1', expiresAt: '1970-01-01T00:15:00.000Z' });
    expect(out.code).toBe('FORBIDDEN');
    expect(out.sent).toHaveLength(1);
    expect(out.sent[0].url).toBe('http://keygate.test/graphql');
    expect(out.sent[0].headers['x-api-key']).toBe('server-test');
    expect(out.sent[0].body.variables).toEqual({ first: 1 });
    expect(out.sent[0].body.query).toMatch(/^query ApiKeys\b/);
  });

  const CONSUMER = `
import { ApiKeysDocument, createCustomerToken, createKeygateClient, KeygateClientError } from 'keygate/client';

const client = createKeygateClient({ url: 'http://localhost:4000/graphql', apiKey: 'server-…' });

export async function firstKeyName(): Promise<string | undefined> {
  const page = await client.request(ApiKeysDocument, { first: 1 });
  return page.apiKeys.edges[0]?.node.name;
}

export function codeOf(error: unknown): string | null {
  return error instanceof KeygateClientError ? error.code : null;
}

export const token: string = createCustomerToken('cus_1', 'signing-secret', { expiresIn: '15m' });

// The declarations carry real types, not any: each wrong use below must be an error.
// @ts-expect-error first is a number
void client.request(ApiKeysDocument, { first: 'one' });
// @ts-expect-error a client needs an apiKey or a sessionToken
createKeygateClient({ url: '/graphql' });
// @ts-expect-error a key page has no such field
void client.apiKeys().then((page) => page.nodes);
`;

  it.each([
    {
      name: 'a Node backend (NodeNext)',
      options: {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        lib: ['lib.es2022.d.ts'],
        types: ['node'],
      },
    },
    {
      name: 'a bundled front end (Bundler)',
      options: {
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
        types: [],
      },
    },
  ])('type-checks $name importing it, against the compiled declarations', ({ options }) => {
    const consumer = path.join(project, 'consumer.ts');
    writeFileSync(consumer, CONSUMER);
    const program = ts.createProgram({
      rootNames: [consumer],
      options: { ...options, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: false },
    });
    const keygateFiles = program.getSourceFiles().filter((file) => !path.relative(installed, file.fileName).startsWith('..'));
    // The consumer and every keygate declaration file, checked as a strict consumer would (others' packages are not ours to check).
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...[program.getSourceFile(consumer), ...keygateFiles].flatMap((file) => [
        ...program.getSyntacticDiagnostics(file),
        ...program.getSemanticDiagnostics(file),
      ]),
    ];
    const host = { getCanonicalFileName: (f: string) => f, getCurrentDirectory: () => project, getNewLine: () => '\n' };
    expect(ts.formatDiagnostics(diagnostics, host)).toBe('');

    const relative = keygateFiles.map((file) => path.relative(installed, file.fileName));
    expect(relative).toContain(path.normalize('dist/client/types/client/index.d.ts'));
    expect(relative.filter((file) => !file.endsWith('.d.ts'))).toEqual([]);
  });

  it('imports, in its JavaScript and its declarations, only packages of keygate’s `dependencies`', () => {
    const { dependencies } = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    const shipped = readdirSync(path.join(installed, 'dist/client'), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && /\.(js|d\.ts)$/.test(entry.name))
      .map((entry) => readFileSync(path.join(entry.parentPath, entry.name), 'utf8'));
    const specifiers = shipped.flatMap((text) => [...text.matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!));
    const packages = new Set(
      specifiers.filter((s) => !s.startsWith('.') && !isBuiltin(s)).map((s) => s.split('/', s.startsWith('@') ? 2 : 1).join('/')),
    );
    expect([...packages].filter((name) => !Object.hasOwn(dependencies, name))).toEqual([]);
    // The typed documents' declarations name it: a consumer's type check needs it installed.
    expect(packages).toContain('@graphql-typed-document-node/core');
  });
});
