import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { ApiKeyRef } from '../api-key/api-key.schema.js';
import { ActorRef, ActorTypeEnum } from '../audit/audit.schema.js';
import { connectionType, NodeRef, optionalId, pageArgs } from '../common/common.schema.js';
import { requires } from '../permission/permission.guard.js';
import { ACTIVITY_NEEDS, listActivity } from './activity.service.js';
import { ACTIVITY_OUTCOMES, type ActivityEventRow } from './activity.table.js';

const ActivityOutcomeEnum = builder.enumType('ActivityOutcome', { values: ACTIVITY_OUTCOMES });

const ActivityEventRef = builder.objectRef<ActivityEventRow>('ActivityEvent').implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    timestamp: t.field({ type: 'DateTime', resolve: (e) => e.created_at }),
    action: t.exposeString('action', { description: 'Human label of the operation, e.g. "Create customer".' }),
    field: t.exposeString('field', { description: 'Root field that was called, e.g. "createCustomer".' }),
    operationType: t.exposeString('operation_type'),
    outcome: t.field({ type: ActivityOutcomeEnum, resolve: (e) => e.outcome }),
    errorCode: t.exposeString('error_code', { nullable: true, description: 'Error code when outcome is not SUCCESS.' }),
    actor: t.field({ type: ActorRef, resolve: (e) => ({ type: e.actor_type, id: e.actor_id, displayName: e.actor_name }) }),
    apiKey: t.field({
      ...activity('View API key'),
      type: ApiKeyRef,
      nullable: true,
      description: 'The key used for the call, when an API key made it.',
      resolve: (e, _args, ctx) => (e.api_key_id ? ctx.loaders.apiKey.load(e.api_key_id) : null),
    }),
    requestId: t.exposeString('request_id'),
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
