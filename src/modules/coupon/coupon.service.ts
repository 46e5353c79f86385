import type { RequestContext } from '../../context.js';
import { isUniqueViolation } from '../../database/errors.js';
import { badInput, conflict } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { type Page, type PageArgs, pageRequest, toPage } from '../../shared/pagination.js';
import { requireIdentifier } from '../../shared/validation.js';
import { resolveEnvironment } from '../auth/tenancy.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { needs } from '../permission/permission.model.js';
import { countCoupons, insertCoupon, listCoupons } from './coupon.repository.js';
import type { CouponRow } from './coupon.table.js';

/** What each coupon operation needs; the fields' gates read the same declarations. */
export const COUPON_NEEDS = { read: needs([P.couponsRead]), write: needs([P.couponsWrite]) };

export const COUPON_CODE_MAX = 64;

export async function listCouponsOf(
  ctx: RequestContext,
  args: PageArgs & { environmentId?: string | null },
): Promise<Page<CouponRow>> {
  const page = pageRequest(args);
  const { env, grants } = await resolveEnvironment(ctx, args.environmentId);
  assertGranted(grants, COUPON_NEEDS.read);
  const rows = await listCoupons(ctx.reads, env.id, page);
  return toPage(rows, page, () => countCoupons(ctx.reads, env.id));
}

/** createCoupon: percentOff 1 to 100; codes are unique per environment (CONFLICT). */
export async function createCoupon(
  ctx: RequestContext,
  input: { environmentId?: string | null; code: string; percentOff: number },
): Promise<CouponRow> {
  const code = requireIdentifier('code', input.code, COUPON_CODE_MAX);
  if (!Number.isInteger(input.percentOff) || input.percentOff < 1 || input.percentOff > 100) {
    throw badInput('percentOff', `must be a whole number from 1 to 100, got ${input.percentOff}.`);
  }
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, COUPON_NEEDS.write);
  const row: CouponRow = {
    id: newId('cpn'),
    account_id: env.account_id,
    environment_id: env.id,
    code,
    percent_off: input.percentOff,
    created_at: ctx.clock.now().toISOString(),
  };
  try {
    await insertCoupon(ctx.db, row);
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`A coupon with code "${code}" already exists in this environment.`);
    throw error;
  }
  return row;
}
