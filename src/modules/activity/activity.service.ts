import type { RequestContext } from '../../context.js';
import { type Page, type PageArgs, pageRequest, toPage } from '../../shared/pagination.js';
import { isKeygateId } from '../../shared/validation.js';
import type { ActorType } from '../audit/actor.js';
import { resolveEnvironment } from '../auth/tenancy.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { needs } from '../permission/permission.model.js';
import { type ActivityRead, countActivityEvents, listActivityEvents } from './activity.repository.js';
import type { ActivityEvent, ActivityOutcome } from './activity.table.js';

/** `activity` needs activity:read; its field gate reads the same declaration. */
export const ACTIVITY_NEEDS = { read: needs([P.activityRead]) };

export interface ListActivityArgs extends PageArgs {
  environmentId?: string | null;
  apiKeyId?: string | null;
  actorType?: ActorType | null;
  outcome?: ActivityOutcome | null;
  since?: Date | null;
}

/**
 * The environment's activity within its plan's retention window, newest
 * first; this instance's waiting events are written first.
 */
export async function listActivity(ctx: RequestContext, args: ListActivityArgs): Promise<Page<ActivityEvent>> {
  const page = pageRequest(args);
  const { env, grants } = await resolveEnvironment(ctx, args.environmentId);
  assertGranted(grants, ACTIVITY_NEEDS.read);
  // A value without a key id's shape names no key: it matches nothing, without a query (PostgreSQL
  // would refuse a NUL in it where SQLite matches nothing; SPEC §8 wants one answer).
  if (args.apiKeyId && !isKeygateId(args.apiKeyId, 'key')) return toPage([], page, async () => 0);
  const account = await ctx.loaders.account.load(env.account_id);
  await ctx.deps.activity.flush();
  const { store, retention } = ctx.deps.activityLog;
  const read: ActivityRead = {
    // Pages and counts are reads whose cost could grow with the data: on a SQLite file they run in a
    // reader process (src/database/reader.ts), never on the connection every request shares.
    db: ctx.reads,
    dialect: store.dialect,
    refs: store.refs,
    cutoffMs: retention.cutoffMs(account?.plan ?? 'FREE', ctx.clock.now().getTime()),
    filter: {
      environmentId: env.id,
      apiKeyId: args.apiKeyId,
      actorType: args.actorType,
      outcome: args.outcome,
      sinceMs: args.since?.getTime() ?? null,
    },
  };
  const rows = await listActivityEvents(read, page);
  return toPage(rows, page, () => countActivityEvents(read));
}
