import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';
import type { RequestContext } from '../../context.js';

/** Where a root field's call landed: the account and environment whose activity log gets its event. */
export interface ActivityPlace {
  accountId: string;
  environmentId: string;
}

/** Per request: the place each root field (by response key) reached; bounded by the document's root fields. */
export type ActivityPlaces = Map<string, ActivityPlace>;

/**
 * Records, for the root field now resolving, the environment its service
 * reached (the tenancy helpers call this after their check passed). The
 * first place a root field reaches is where its event lands.
 */
export function recordPlace(ctx: RequestContext, place: ActivityPlace, root = ctx.activityRoot): void {
  if (root !== undefined && !ctx.activityPlaces.has(root)) ctx.activityPlaces.set(root, place);
}

type Resolver = GraphQLFieldResolver<unknown, RequestContext>;

/**
 * Gives each root field's resolver a context of its own that names the
 * field (its response key), so the service resolving it can record where
 * the call landed (`recordPlace`). Nested fields keep the request's context.
 */
export function withActivityRoots(schema: GraphQLSchema): GraphQLSchema {
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) {
      const resolve = field.resolve as Resolver | undefined;
      if (!resolve) continue;
      field.resolve = (source, args, ctx: RequestContext, info) =>
        resolve(source, args, { ...ctx, activityRoot: String(info.path.key) }, info);
    }
  }
  return schema;
}
