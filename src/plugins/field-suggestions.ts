import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { reworded } from '../shared/error-funnel.js';

/** graphql-js appends its hints ("Did you mean "viewer"?", "… the enum value "ACTIVE"?") to the message. */
const SUGGESTION = / ?Did you mean [^?]*\?/g;

function withoutSuggestion(error: GraphQLError): GraphQLError {
  const message = error.message.replace(SUGGESTION, '');
  if (message === error.message) return error;
  // A copy: validation errors come out of Yoga's validation cache and are shared by later requests.
  return reworded(error, message, error.extensions);
}

/**
 * Leaves graphql-js's "Did you mean …?" hints out of the errors of callers
 * who may not see the schema (`hidden`): the hints name fields, arguments,
 * input fields and enum values the caller never asked for, which would
 * rebuild the schema introspection is closed to. Covers validation errors
 * and variable errors alike; everyone else keeps them.
 */
export function useFieldSuggestionsHiddenFor(hidden: (request: Request) => boolean): Plugin {
  return {
    onExecutionResult({ request, result, setResult }) {
      if (!result || Array.isArray(result) || Symbol.asyncIterator in result || !result.errors?.length) return;
      if (!hidden(request)) return;
      setResult({ ...result, errors: result.errors.map((error) => withoutSuggestion(error as GraphQLError)) });
    },
  };
}
