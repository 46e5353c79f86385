import type { OperationTypeNode } from 'graphql';
import { builder } from '../../builder.js';
import { activity, activityLabel } from '../activity/activity.labels.js';
import { ApiKeyRef } from '../api-key/api-key.schema.js';
import { ActorRef, ActorTypeEnum } from '../audit/audit.schema.js';
import { connectionType, NodeRef, optionalId, pageArgs } from '../common/common.schema.js';
import { requires } from '../permission/permission.guard.js';
import { ACTIVITY_NEEDS, listActivity } from './activity.service.js';
import { ACTIVITY_OUTCOMES, type ActivityEvent } from './activity.table.js';

const ActivityOutcomeEnum = builder.enumType('ActivityOutcome', { values: ACTIVITY_OUTCOMES });

const ActivityEventRef = builder.objectRef<ActivityEvent>('ActivityEvent').implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    timestamp: t.field({ type: 'DateTime', resolve: (e) => e.timestamp }),
    action: t.string({
      description: 'Human label of the operation, e.g. "Create customer".',
      // The label is the field's (not stored per event): its declared one, else its name made readable.
      resolve: (e, _args, _ctx, info) => {
        const root = info.schema.getRootType(e.operationType as OperationTypeNode);
        return activityLabel(e.field, root?.getFields()[e.field]);
      },
    }),
    field: t.exposeString('field', { description: 'Root field that was called, e.g. "createCustomer".' }),
    operationType: t.exposeString('operationType'),
    outcome: t.field({ type: ActivityOutcomeEnum, resolve: (e) => e.outcome }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: 'Error code when outcome is not SUCCESS.' }),
    actor: t.field({ type: ActorRef, resolve: (e) => e.actor }),
    apiKey: t.field({
      ...activity('View API key'),
      type: ApiKeyRef,
      nullable: true,
      description: 'The key used for the call, when an API key made it.',
      resolve: (e, _args, ctx) => (e.apiKeyId ? ctx.loaders.apiKey.load(e.apiKeyId) : null),
    }),
    requestId: t.exposeString('requestId'),
  }),
});

const ActivityFilter = builder.inputType('ActivityFilter', {
  fields: (t) => ({
    apiKeyId: t.id({ required: false }),
    actorType: t.field({ type: ActorTypeEnum, required: false }),
    outcome: t.field({ type: ActivityOutcomeEnum, required: false }),
    since: t.field({ type: 'DateTime', required: false }),
  }),
});

const ActivityEventConnectionRef = connectionType('ActivityEvent', ActivityEventRef);

builder.queryField('activity', (t) =>
  t.field({
    ...activity('View activity'),
    ...requires(ACTIVITY_NEEDS.read),
    type: ActivityEventConnectionRef,
    description: "The environment's API calls, one event per root field, newest first.",
    args: {
      environmentId: t.arg.id({ required: false }),
      filter: t.arg({ type: ActivityFilter, required: false }),
      ...pageArgs(t),
    },
    resolve: (_root, args, ctx) =>
      listActivity(ctx, {
        environmentId: optionalId(args.environmentId),
        apiKeyId: optionalId(args.filter?.apiKeyId),
        actorType: args.filter?.actorType,
        outcome: args.filter?.outcome,
        since: args.filter?.since,
        first: args.first,
        after: args.after,
      }),
  }),
);
