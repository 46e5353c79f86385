import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { NodeRef, optionalId } from '../common/common.schema.js';
import { CustomerRef } from '../customer/customer.schema.js';
import { CUSTOMER_NEEDS } from '../customer/customer.service.js';
import { requires } from '../permission/permission.guard.js';
import { cancelSubscription, createSubscription, SUBSCRIPTION_NEEDS } from './subscription.service.js';
import type { SubscriptionRow } from './subscription.table.js';

export const SubscriptionStatusEnum = builder.enumType('SubscriptionStatus', { values: ['ACTIVE', 'CANCELED'] as const });

export const SubscriptionRef = builder.objectRef<SubscriptionRow>('Subscription');

SubscriptionRef.implement({
  ...requires(SUBSCRIPTION_NEEDS.read),
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    planId: t.exposeString('plan_id'),
    status: t.field({ type: SubscriptionStatusEnum, resolve: (s) => s.status }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.created_at }),
    canceledAt: t.field({ type: 'DateTime', nullable: true, resolve: (s) => s.canceled_at }),
    customer: t.field({
      ...activity('View customer'),
      ...requires(CUSTOMER_NEEDS.readPersonal),
      type: CustomerRef,
      nullable: true,
      description: 'Needs customers:read as well; null (with a FORBIDDEN error) without it.',
      resolve: (s, _args, ctx) => ctx.loaders.customer.load(s.customer_ref),
    }),
  }),
});

const CreateSubscriptionInput = builder.inputType('CreateSubscriptionInput', {
  fields: (t) => ({
    environmentId: t.id({ required: false }),
    customerId: t.string({ required: true }),
    planId: t.string({ required: true }),
  }),
});

const CancelSubscriptionInput = builder.inputType('CancelSubscriptionInput', {
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const SubscriptionPayload = builder.objectRef<SubscriptionRow>('SubscriptionPayload').implement({
  fields: (t) => ({ subscription: t.field({ type: SubscriptionRef, resolve: (s) => s }) }),
});

builder.mutationFields((t) => ({
  createSubscription: t.field({
    ...activity('Create subscription'),
    ...requires(SUBSCRIPTION_NEEDS.write),
    type: SubscriptionPayload,
    args: { input: t.arg({ type: CreateSubscriptionInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createSubscription(ctx, {
        environmentId: optionalId(input.environmentId),
        customerId: input.customerId,
        planId: input.planId,
      }),
  }),
  cancelSubscription: t.field({
    ...activity('Cancel subscription'),
    ...requires(SUBSCRIPTION_NEEDS.write),
    type: SubscriptionPayload,
    description: 'CONFLICT when the subscription is already canceled.',
    args: { input: t.arg({ type: CancelSubscriptionInput, required: true }) },
    resolve: (_root, { input }, ctx) => cancelSubscription(ctx, { id: String(input.id) }),
  }),
}));
