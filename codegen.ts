import { readFileSync } from 'node:fs';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { Kind, parse, print, visit } from 'graphql';
import { PENDING_OPERATIONS } from './test/contract/pending.ts';

/**
 * Typed documents for the contract operations Keygate serves. Operations
 * still to come (test/contract/pending.ts) are left out, with the fragments
 * only they use, so codegen validates everything that is served.
 */
function servedContractOperations(): string {
  const document = parse(readFileSync('test/contract/operations.graphql', 'utf8'));
  const operations = document.definitions.filter(
    (d) => d.kind === Kind.OPERATION_DEFINITION && !PENDING_OPERATIONS.includes(d.name?.value ?? ''),
  );
  const used = new Set<string>();
  for (const op of operations) visit(op, { FragmentSpread: (node) => void used.add(node.name.value) });
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION && used.has(d.name.value));
  return print({ kind: Kind.DOCUMENT, definitions: [...fragments, ...operations] });
}

const config: CodegenConfig = {
  schema: 'schema.graphql',
  emitLegacyCommonJSImports: false,
  documents: [servedContractOperations()],
  generates: {
    [process.env.KEYGATE_CODEGEN_OUT ?? 'src/client/generated/']: {
      preset: 'client',
      presetConfig: { fragmentMasking: false, gqlTagName: 'graphql' },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' } },
    },
  },
};

export default config;
