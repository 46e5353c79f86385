import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { type ArgumentNode, type DocumentNode, Kind, validate, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode, KeygateError } from '../shared/errors.js';
import { asValidationErrors, limitMessage } from './armor.js';

const PAGING_ARGUMENTS = new Set(['first', 'last']);

const isVariablePaging = (node: ArgumentNode) => PAGING_ARGUMENTS.has(node.name.value) && node.value.kind === Kind.VARIABLE;

function hasVariablePaging(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Argument(node) {
      if (isVariablePaging(node)) found = true;
    },
  });
  return found;
}

/**
 * GraphQL Armor's cost limit multiplies a list's cost by a literal `first`
 * (or `last`) only: passed as a variable, the page size counts as 1, so
 * nested pages could slip a costly document past the limit. Once the
 * variables are known (before execution; validation results are cached per
 * document, so this cannot run there), the same rule runs again over the
 * document with those page sizes written in. Documents without a variable
 * page size skip this entirely.
 */
export function useVariableCostLimit(maxCost: number): Plugin {
  const pagedByVariable = new WeakMap<DocumentNode, boolean>();
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const { document, variableValues } = args;
      let paged = pagedByVariable.get(document);
      if (paged === undefined) {
        paged = hasVariablePaging(document);
        pagedByVariable.set(document, paged);
      }
      if (!paged || !variableValues) return;
      const inlined = visit(document, {
        Argument(node) {
          if (!isVariablePaging(node) || node.value.kind !== Kind.VARIABLE) return undefined;
          const size = variableValues[node.value.name.value];
          return Number.isInteger(size) && (size as number) > 0
            ? { ...node, value: { kind: Kind.INT, value: String(size) } }
            : undefined;
        },
      });
      const [error] = validate(args.schema, inlined, [costLimitRule({ maxCost, ...asValidationErrors })]);
      if (error) {
        const message = limitMessage(error.message);
        setResultAndStopExecution({
          errors: [new KeygateError(ErrorCode.BAD_USER_INPUT, `${message} (page sizes from variables count too)`)],
        });
      }
    },
  };
}
