import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSchema, findBreakingChanges, type GraphQLField, getDirectiveValues, isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { CAPABILITIES, CATALOGUE_NAMES, CLIENT_PERMISSIONS } from '../../src/modules/permission/permission.catalogue.js';
import { printKeygateSchema } from '../../src/print-schema.js';
import { schema } from '../../src/schema.js';
import { PENDING_OPERATIONS, PENDING_SCHEMA } from '../contract/pending.js';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

describe('printed schema', () => {
  it('schema.graphql is up to date (run `npm run schema`)', () => {
    expect(read('schema.graphql')).toBe(printKeygateSchema());
  });

  it('carries @requiresScopes and @authenticated on guarded fields, naming only known permissions', () => {
    const printed = buildSchema(read('schema.graphql'));
    const known = new Set<string>([...CATALOGUE_NAMES, ...Object.values(CLIENT_PERMISSIONS), ...Object.values(CAPABILITIES)]);
    const requiresScopes = printed.getDirective('requiresScopes')!;
    let guarded = 0;
    for (const type of Object.values(printed.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields()) as GraphQLField<unknown, unknown>[]) {
        const values = field.astNode ? getDirectiveValues(requiresScopes, field.astNode) : undefined;
        if (!values) continue;
        guarded++;
        for (const all of values.scopes as string[][])
          for (const p of all) expect(known.has(p), `${type.name}.${field.name}: ${p}`).toBe(true);
      }
    }
    expect(guarded).toBeGreaterThan(3);
    expect(read('schema.graphql')).toMatch(/viewer: Viewer! @authenticated/);
  });
});

/** `findBreakingChanges` descriptions start with the schema coordinate ("Query.customers was removed."). */
const coordinate = (description: string) => description.split(' ')[0]!;

describe('client contract', () => {
  const contract = buildSchema(read('test/contract/schema.graphql'));

  // Outside the workspace there is no shared folder to compare with: the check is skipped, visibly.
  const shared = path.resolve(root, '../shared/contract');
  it.skipIf(!existsSync(shared))('is copied verbatim from the shared contract, every file of it', () => {
    const files = readdirSync(shared).sort();
    expect(files).toEqual(expect.arrayContaining(['operations.graphql', 'schema.graphql']));
    for (const file of files) {
      expect(existsSync(path.join(root, 'test/contract', file)), `test/contract/${file} is missing`).toBe(true);
      expect(read(`test/contract/${file}`), file).toBe(readFileSync(path.join(shared, file), 'utf8'));
    }
  });

  it('is served compatibly except for the explicit, shrinking list of what is still to come', () => {
    const breaking = findBreakingChanges(contract, schema).map((c) => c.description);
    const unexpected = breaking.filter((d) => !PENDING_SCHEMA.includes(coordinate(d)));
    expect(unexpected).toEqual([]);
    const served = PENDING_SCHEMA.filter((p) => !breaking.some((d) => coordinate(d) === p));
    expect(served, 'served already: remove from test/contract/pending.ts').toEqual([]);
  });

  it('generated client code is up to date (run `npm run codegen`)', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'keygate-codegen-'));
    execFileSync(
      process.execPath,
      [path.join(root, 'node_modules/@graphql-codegen/cli/cjs/bin.js'), '--config', 'codegen.ts', '--silent'],
      {
        cwd: root,
        env: { ...process.env, KEYGATE_CODEGEN_OUT: `${out}/` },
        stdio: 'pipe',
      },
    );
    for (const file of readdirSync(out)) {
      expect(readFileSync(path.join(out, file), 'utf8'), file).toBe(read(`src/client/generated/${file}`));
    }
    expect(readdirSync(out).sort()).toEqual(readdirSync(path.join(root, 'src/client/generated')).sort());
  });

  it('leaves out of codegen only the operations still to come', () => {
    const generated = read('src/client/generated/graphql.ts');
    const operations = [...read('test/contract/operations.graphql').matchAll(/^(?:query|mutation) (\w+)/gm)].map((m) => m[1]!);
    for (const name of operations) {
      expect(generated.includes(`export const ${name}Document`), name).toBe(!PENDING_OPERATIONS.includes(name));
    }
  });
});
