import type { GraphQLField } from 'graphql';

/** Where a root field keeps its activity label: Pothos `extensions`, next to its permission guard. */
const LABEL = 'activityLabel';

/** Field option naming a root field in the activity log ("Create customer"), spread like `requires()`. */
export function activity(label: string) {
  return { extensions: { [LABEL]: label } };
}

/** The field of the one event of a refused operation that names no field the schema knows. */
export const UNKNOWN_FIELD = '(unknown)';

/**
 * The label of a root field: its own (`activity()`), else a readable form of
 * its name ("someField" → "Some field"), for fields that declare none
 * (upstream services' fields).
 */
export function activityLabel(name: string, field?: GraphQLField<unknown, unknown>): string {
  if (name === UNKNOWN_FIELD) return 'Invalid operation';
  const declared = field?.extensions?.[LABEL];
  if (typeof declared === 'string') return declared;
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
