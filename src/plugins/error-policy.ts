import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { RequestContext } from '../context.js';
import { codedError } from '../shared/error-funnel.js';
import { requestIdOf } from './request-id.js';

/**
 * Every error leaves through the error funnel (shared/error-funnel.ts) at
 * each stage Yoga lets a plugin see it: parse, validation, execution, and
 * the response itself.
 */
export function useErrorPolicy(logger: Logger): Plugin<RequestContext> {
  return {
    // Last line of defence: whatever produced an error (request parsing, a validation rule of a
    // plugin, an HTTP-level refusal such as a mutation over GET), it leaves with a closed-set code.
    onResultProcess({ request, result, setResult }) {
      if (Array.isArray(result) || !result || Symbol.asyncIterator in result || !result.errors?.length) return;
      const site = { stage: 'response', requestId: requestIdOf(request), logger } as const;
      setResult({ ...result, errors: result.errors.map((e) => codedError(e, site)) });
    },
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          return parseFn(source, options);
        } catch (error) {
          throw codedError(error, { stage: 'parse', requestId: null, logger });
        }
      });
    },
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length) setResult(result.map((e) => codedError(e, { stage: 'validation', requestId: null, logger })));
      };
    },
    onExecute({ args }) {
      const { requestId } = args.contextValue;
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.length) return;
          const site = { stage: 'execution', requestId, logger } as const;
          setResult({ ...result, errors: result.errors.map((e: GraphQLError) => codedError(e, site)) });
        },
      };
    },
  };
}
