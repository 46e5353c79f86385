import type { RequestContext } from '../../context.js';
import { isUniqueViolation } from '../../database/errors.js';
import { conflict, notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { type Page, type PageArgs, pageRequest, toPage } from '../../shared/pagination.js';
import { isIdentifier, optionalEmail, optionalJson, optionalText, requireIdentifier } from '../../shared/validation.js';
import { resolveEnvironment } from '../auth/tenancy.js';
import { authorizeCustomerRead } from '../client-security/client-security.service.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { needs } from '../permission/permission.model.js';
import { countCustomers, findCustomer, insertCustomer, listCustomers, updateCustomerRow } from './customer.repository.js';
import type { CustomerRow } from './customer.table.js';

/** What each customer operation needs; the fields' gates (customer.schema.ts) read the same declarations. */
export const CUSTOMER_NEEDS = {
  /** Client-safe reads: a server key's customers:read, or the publishable key's customers:read_public. */
  read: needs([P.customersRead], [P.customersReadPublic]),
  /** Lists and personal data (email, metadata): customers:read only, never the publishable key. */
  readPersonal: needs([P.customersRead]),
  write: needs([P.customersWrite]),
};

export const CUSTOMER_ID_MAX = 255;
export const CUSTOMER_NAME_MAX = 200;
export const CUSTOMER_METADATA_MAX_BYTES = 16 * 1024;

export async function listCustomersOf(
  ctx: RequestContext,
  args: PageArgs & { environmentId?: string | null },
): Promise<Page<CustomerRow>> {
  const page = pageRequest(args);
  const { env, grants } = await resolveEnvironment(ctx, args.environmentId);
  assertGranted(grants, CUSTOMER_NEEDS.readPersonal);
  const rows = await listCustomers(ctx.reads, env.id, page);
  for (const row of rows) ctx.loaders.customer.prime(row.id, row);
  return toPage(rows, page, () => countCustomers(ctx.reads, env.id));
}

/** One customer by the caller's customerId; the publishable key also needs a valid customer token. */
export async function getCustomer(
  ctx: RequestContext,
  args: { environmentId?: string | null; customerId: string },
): Promise<CustomerRow> {
  const { env, grants } = await resolveEnvironment(ctx, args.environmentId);
  assertGranted(grants, CUSTOMER_NEEDS.read);
  await authorizeCustomerRead(ctx, env, grants, args.customerId);
  // A customerId that could never have been created cannot exist: no query for it.
  const customer = isIdentifier(args.customerId, CUSTOMER_ID_MAX)
    ? await findCustomer(ctx.db, env.id, args.customerId)
    : undefined;
  if (!customer) throw notFound('Customer');
  ctx.loaders.customer.prime(customer.id, customer);
  return customer;
}

/** A customer of the environment by the caller's customerId, for writes; NOT_FOUND otherwise. */
export async function customerForWrite(ctx: RequestContext, environmentId: string, customerId: string): Promise<CustomerRow> {
  const customer = isIdentifier(customerId, CUSTOMER_ID_MAX) ? await findCustomer(ctx.db, environmentId, customerId) : undefined;
  if (!customer) throw notFound('Customer');
  return customer;
}

export interface CustomerInput {
  environmentId?: string | null;
  customerId: string;
  name?: string | null;
  email?: string | null;
  metadata?: unknown;
}

export async function createCustomer(ctx: RequestContext, input: CustomerInput): Promise<CustomerRow> {
  const customerId = requireIdentifier('customerId', input.customerId, CUSTOMER_ID_MAX);
  const name = optionalText('name', input.name, CUSTOMER_NAME_MAX);
  const email = optionalEmail('email', input.email);
  const metadata = optionalJson('metadata', input.metadata, CUSTOMER_METADATA_MAX_BYTES);
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, CUSTOMER_NEEDS.write);
  const now = ctx.clock.now().toISOString();
  const row: CustomerRow = {
    id: newId('cus'),
    account_id: env.account_id,
    environment_id: env.id,
    customer_id: customerId,
    name,
    email,
    metadata,
    created_at: now,
    updated_at: now,
  };
  try {
    await insertCustomer(ctx.db, row);
  } catch (error) {
    if (isUniqueViolation(error))
      throw conflict(`A customer with customerId "${customerId}" already exists in this environment.`);
    throw error;
  }
  ctx.loaders.customer.prime(row.id, row);
  return row;
}

/** updateCustomer: fields left out stay as they are; explicit nulls clear them. */
export async function updateCustomer(ctx: RequestContext, input: CustomerInput): Promise<CustomerRow> {
  const patch: Partial<Pick<CustomerRow, 'name' | 'email' | 'metadata' | 'updated_at'>> = {};
  if (input.name !== undefined) patch.name = optionalText('name', input.name, CUSTOMER_NAME_MAX);
  if (input.email !== undefined) patch.email = optionalEmail('email', input.email);
  if (input.metadata !== undefined) patch.metadata = optionalJson('metadata', input.metadata, CUSTOMER_METADATA_MAX_BYTES);
  const { env, grants } = await resolveEnvironment(ctx, input.environmentId);
  assertGranted(grants, CUSTOMER_NEEDS.write);
  const customer = await customerForWrite(ctx, env.id, input.customerId);
  patch.updated_at = ctx.clock.now().toISOString();
  await updateCustomerRow(ctx.db, customer.id, patch);
  const updated = { ...customer, ...patch };
  ctx.loaders.customer.clear(customer.id).prime(customer.id, updated);
  return updated;
}
