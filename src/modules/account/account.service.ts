import type { Deps } from '../../deps.js';
import { badInput, notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { requireEmail, requireText } from '../../shared/validation.js';
import { SYSTEM_ACTOR } from '../audit/actor.js';
import { type ProvisionedEnvironment, provisionEnvironment } from '../environment/environment.service.js';
import { findAccountById, findUserByEmail, insertAccount, insertUser, upsertMembership } from './account.repository.js';
import { PLANS, type Plan, ROLES, type Role, type UserRow } from './account.table.js';

export function parsePlan(value: string): Plan {
  const plan = value.toUpperCase();
  if (!(PLANS as readonly string[]).includes(plan)) throw badInput('plan', `must be one of ${PLANS.join(', ')}.`);
  return plan as Plan;
}

export function parseRole(value: string): Role {
  const role = value.toUpperCase().replace('-', '_');
  if (!(ROLES as readonly string[]).includes(role)) throw badInput('role', `must be one of ${ROLES.join(', ')}.`);
  return role as Role;
}

function parseEmail(value: string): string {
  return requireEmail('email', value).toLowerCase();
}

async function findOrCreateUser(db: Deps['db'], email: string, now: Date): Promise<UserRow> {
  const existing = await findUserByEmail(db, email);
  if (existing) return existing;
  const user: UserRow = { id: newId('usr'), email, name: null, created_at: now.toISOString() };
  await insertUser(db, user);
  return user;
}

export interface BootstrapResult {
  account: { id: string; name: string; plan: Plan };
  owner: UserRow;
  environments: ProvisionedEnvironment[];
}

/** Creates an account with its owner and the Development and Production environments, atomically. */
export async function bootstrapAccount(
  deps: Pick<Deps, 'db' | 'secretBox' | 'clock'>,
  input: { name: string; plan: Plan; ownerEmail: string },
): Promise<BootstrapResult> {
  const name = requireText('name', input.name, 100);
  const email = parseEmail(input.ownerEmail);
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    const account = { id: newId('acc'), name, plan: input.plan, created_at: now.toISOString() };
    await insertAccount(trx, account);
    const owner = await findOrCreateUser(trx, email, now);
    await upsertMembership(trx, { account_id: account.id, user_id: owner.id, role: 'OWNER', created_at: now.toISOString() });
    const environments: ProvisionedEnvironment[] = [];
    for (const envName of ['Development', 'Production']) {
      environments.push(
        await provisionEnvironment(trx, deps, { accountId: account.id, name: envName, actor: SYSTEM_ACTOR, now }),
      );
    }
    return { account: { id: account.id, name, plan: input.plan }, owner, environments };
  });
}

/** Adds (or re-roles) a user in an account. */
export async function addUserToAccount(
  deps: Pick<Deps, 'db' | 'clock'>,
  input: { accountId: string; email: string; role: Role },
): Promise<{ user: UserRow; role: Role }> {
  const email = parseEmail(input.email);
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (trx) => {
    if (!(await findAccountById(trx, input.accountId))) throw notFound('Account');
    const user = await findOrCreateUser(trx, email, now);
    await upsertMembership(trx, {
      account_id: input.accountId,
      user_id: user.id,
      role: input.role,
      created_at: now.toISOString(),
    });
    return { user, role: input.role };
  });
}
