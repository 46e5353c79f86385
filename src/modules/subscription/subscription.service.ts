import type { RequestContext } from '../../context.js';
import { conflict, notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { requireIdentifier } from '../../shared/validation.js';
import { reach, resolveEnvironment } from '../auth/tenancy.js';
import { customerForWrite } from '../customer/customer.service.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { needs } from '../permission/permission.model.js';
import { cancelActiveSubscription, insertSubscription } from './subscription.repository.js';
import type { SubscriptionRow } from './subscription.table.js';

/** What each subscription operation needs; the fields' gates read the same declarations. */
export const SUBSCRIPTION_NEEDS = {
  /** Client-safe reads: subscriptions:read, or the publishable key's subscriptions:read_public. */
  read: needs([P.subscriptionsRead], [P.subscriptionsReadPublic]),
  write: needs([P.subscriptionsWrite]),
};

export const PLAN_ID_MAX = 100;

export async function createSubscription(
  ctx: RequestContext,
  input: { environmentId?: string | null; customerId: string; planId: string },
): Promise<SubscriptionRow> {
  const planId = requireIdentifier('planId', input.planId, PLAN_ID_MAX);
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, SUBSCRIPTION_NEEDS.write);
  const customer = await customerForWrite(ctx, env.id, input.customerId);
  const row: SubscriptionRow = {
    id: newId('sub'),
    account_id: env.account_id,
    environment_id: env.id,
    customer_ref: customer.id,
    plan_id: planId,
    status: 'ACTIVE',
    created_at: ctx.clock.now().toISOString(),
    canceled_at: null,
  };
  await insertSubscription(ctx.db, row);
  ctx.loaders.customer.prime(customer.id, customer);
  ctx.loaders.subscription.prime(row.id, row);
  ctx.loaders.subscriptionsOfCustomer.clear(customer.id);
  return row;
}

/** cancelSubscription: CONFLICT when it is already canceled. */
export async function cancelSubscription(ctx: RequestContext, input: { id: string }): Promise<SubscriptionRow> {
  const subscription = await ctx.loaders.subscription.load(input.id);
  const grants = subscription ? reach(ctx, subscription) : null;
  if (!subscription || !grants) throw notFound('Subscription');
  assertGranted(grants, SUBSCRIPTION_NEEDS.write);
  const at = ctx.clock.now().toISOString();
  if (!(await cancelActiveSubscription(ctx.db, subscription.id, at))) throw conflict('The subscription is already canceled.');
  const canceled: SubscriptionRow = { ...subscription, status: 'CANCELED', canceled_at: at };
  ctx.loaders.subscription.clear(canceled.id).prime(canceled.id, canceled);
  ctx.loaders.subscriptionsOfCustomer.clear(canceled.customer_ref);
  return canceled;
}
