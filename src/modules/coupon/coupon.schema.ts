import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { connectionType, NodeRef, optionalId, pageArgs } from '../common/common.schema.js';
import { requires } from '../permission/permission.guard.js';
import { COUPON_NEEDS, createCoupon, listCouponsOf } from './coupon.service.js';
import type { CouponRow } from './coupon.table.js';

export const CouponRef = builder.objectRef<CouponRow>('Coupon');

CouponRef.implement({
  ...requires(COUPON_NEEDS.read),
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    code: t.exposeString('code'),
    percentOff: t.exposeInt('percent_off'),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.created_at }),
  }),
});

const CouponConnectionRef = connectionType('Coupon', CouponRef);

builder.queryField('coupons', (t) =>
  t.field({
    ...activity('List coupons'),
    ...requires(COUPON_NEEDS.read),
    type: CouponConnectionRef,
    description: 'Coupons of an environment in creation order.',
    args: { environmentId: t.arg.id({ required: false }), ...pageArgs(t) },
    resolve: (_root, args, ctx) =>
      listCouponsOf(ctx, {
        environmentId: optionalId(args.environmentId),
        first: args.first,
        after: args.after,
      }),
  }),
);

const CreateCouponInput = builder.inputType('CreateCouponInput', {
  fields: (t) => ({
    environmentId: t.id({ required: false }),
    code: t.string({ required: true, description: 'Unique per environment: 1 to 64 of letters, digits and _ - . : @' }),
    percentOff: t.int({ required: true, description: '1 to 100.' }),
  }),
});

const CouponPayload = builder.objectRef<CouponRow>('CouponPayload').implement({
  fields: (t) => ({ coupon: t.field({ type: CouponRef, resolve: (c) => c }) }),
});

builder.mutationField('createCoupon', (t) =>
  t.field({
    ...activity('Create coupon'),
    ...requires(COUPON_NEEDS.write),
    type: CouponPayload,
    args: { input: t.arg({ type: CreateCouponInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      createCoupon(ctx, {
        environmentId: optionalId(input.environmentId),
        code: input.code,
        percentOff: input.percentOff,
      }),
  }),
);
