import { type BuilderTypes, builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { connectionType, NodeRef, optionalId, pageArgs } from '../common/common.schema.js';
import { requires } from '../permission/permission.guard.js';
import { SubscriptionRef } from '../subscription/subscription.schema.js';
import { SUBSCRIPTION_NEEDS } from '../subscription/subscription.service.js';
import { customerMetadata } from './customer.repository.js';
import { CUSTOMER_NEEDS, createCustomer, getCustomer, listCustomersOf, updateCustomer } from './customer.service.js';
import type { CustomerRow } from './customer.table.js';

const readCustomer = requires(CUSTOMER_NEEDS.read);
const readPersonal = requires(CUSTOMER_NEEDS.readPersonal);

export const CustomerRef = builder.objectRef<CustomerRow>('Customer');

CustomerRef.implement({
  ...readCustomer,
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    customerId: t.exposeString('customer_id'),
    name: t.exposeString('name', { nullable: true }),
    email: t.exposeString('email', { ...readPersonal, nullable: true }),
    metadata: t.field({ ...readPersonal, type: 'JSON', nullable: true, resolve: (c) => customerMetadata(c) }),
    // Not personal data, and non-null in the contract: denying it would null the whole customer
    // and break "the rest of the response is intact" for the publishable key (SPEC §5).
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.created_at }),
    subscriptions: t.field({
      ...requires(SUBSCRIPTION_NEEDS.read),
      type: [SubscriptionRef],
      nullable: true,
      description: 'Needs subscriptions:read as well; null (with a FORBIDDEN error) without it.',
      resolve: (c, _args, ctx) => ctx.loaders.subscriptionsOfCustomer.load(c.id),
    }),
  }),
});

const CustomerConnectionRef = connectionType('Customer', CustomerRef);

builder.queryFields((t) => ({
  customers: t.field({
    ...activity('List customers'),
    ...readPersonal,
    type: CustomerConnectionRef,
    description: 'Customers of an environment in creation order. Not available to the publishable key.',
    args: { environmentId: t.arg.id({ required: false }), ...pageArgs(t) },
    resolve: (_root, args, ctx) =>
      listCustomersOf(ctx, {
        environmentId: optionalId(args.environmentId),
        first: args.first,
        after: args.after,
      }),
  }),
  customer: t.field({
    ...activity('View customer'),
    ...readCustomer,
    type: CustomerRef,
    nullable: true,
    description:
      'One customer by your customerId. The publishable key needs X-Customer-Token when client-side security is enforced.',
    args: { environmentId: t.arg.id({ required: false }), customerId: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      getCustomer(ctx, {
        environmentId: optionalId(args.environmentId),
        customerId: args.customerId,
      }),
  }),
}));

const customerInputFields = (t: PothosSchemaTypes.InputFieldBuilder<BuilderTypes, 'InputObject'>) => ({
  environmentId: t.id({ required: false }),
  customerId: t.string({ required: true, description: 'Your identifier: 1 to 255 of letters, digits and _ - . : @' }),
  name: t.string({ required: false }),
  email: t.string({ required: false }),
  metadata: t.field({ type: 'JSON', required: false, description: 'Up to 16 KiB of JSON.' }),
});

const CreateCustomerInput = builder.inputType('CreateCustomerInput', { fields: customerInputFields });
const UpdateCustomerInput = builder.inputType('UpdateCustomerInput', { fields: customerInputFields });

const CustomerPayload = builder.objectRef<CustomerRow>('CustomerPayload').implement({
  fields: (t) => ({ customer: t.field({ type: CustomerRef, resolve: (c) => c }) }),
});

type CustomerInputShape = {
  environmentId?: string | number | null;
  customerId: string;
  name?: string | null;
  email?: string | null;
  metadata?: unknown;
};
const toCustomerInput = (input: CustomerInputShape) => ({
  ...input,
  environmentId: optionalId(input.environmentId),
});

builder.mutationFields((t) => ({
  createCustomer: t.field({
    ...activity('Create customer'),
    ...requires(CUSTOMER_NEEDS.write),
    type: CustomerPayload,
    description: 'customerId is unique per environment (CONFLICT otherwise).',
    args: { input: t.arg({ type: CreateCustomerInput, required: true }) },
    resolve: (_root, { input }, ctx) => createCustomer(ctx, toCustomerInput(input)),
  }),
  updateCustomer: t.field({
    ...activity('Update customer'),
    ...requires(CUSTOMER_NEEDS.write),
    type: CustomerPayload,
    description: 'Fields left out stay as they are; null clears them.',
    args: { input: t.arg({ type: UpdateCustomerInput, required: true }) },
    resolve: (_root, { input }, ctx) => updateCustomer(ctx, toCustomerInput(input)),
  }),
}));
