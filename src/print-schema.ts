import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { schema } from './schema.js';

export const SCHEMA_FILE = fileURLToPath(new URL('../schema.graphql', import.meta.url));

/** The committed `schema.graphql`: the served schema with its applied directives. */
export function printKeygateSchema(): string {
  return `${printSchemaWithDirectives(schema)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, printKeygateSchema());
  console.log(`Wrote ${SCHEMA_FILE}`);
}
