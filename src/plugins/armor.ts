import type { GraphQLError, ValidationContext } from 'graphql';

/**
 * GraphQL Armor's limit rules report like any other validation rule instead
 * of throwing out of validation: every exceeded limit is named in one
 * answer, and the activity log sees the refused operation (SPEC §3).
 */
export const asValidationErrors = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/** Armor words its limit errors as syntax errors ("Syntax Error: Query Cost limit of …"); they are limits. */
export const limitMessage = (message: string) => message.replace(/^Syntax Error: (?=.*\blimit of\b)/, '');
