import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { RequestContext } from '../../context.js';
import type { Database } from '../../database/database.js';
import type { Deps } from '../../deps.js';
import { notFound } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { requireText } from '../../shared/validation.js';
import { type IssuedKey, issueKey } from '../api-key/api-key.change.js';
import { DEFAULT_KEY_NAMES } from '../api-key/api-key.service.js';
import type { Actor } from '../audit/actor.js';
import { grantsOn, reachEnvironment } from '../auth/tenancy.js';
import { assertGranted } from '../permission/permission.assert.js';
import { P } from '../permission/permission.catalogue.js';
import { needs } from '../permission/permission.model.js';
import { findEnvironmentsOfAccounts, findSlugsOfAccount, insertEnvironment } from './environment.repository.js';
import type { EnvironmentRow } from './environment.table.js';

/** What each environment operation needs; the fields' gates read the same declarations. */
export const ENVIRONMENT_NEEDS = {
  /** `environments`, `environment(id)`: every credential but the publishable key (SPEC §5). */
  read: needs([P.environmentRead]),
  /** Settings, the signing secret and integrations: the full access key and owners. */
  manage: needs([P.environmentManage]),
  /** `createEnvironment`: owners' sessions only. */
  create: needs([P.accountManage]),
};

export const ENVIRONMENT_NAME_MAX = 100;

/** Environments the caller can see: its own for a key, every environment of the user's accounts. */
export async function listEnvironments(ctx: RequestContext, accountId?: string): Promise<EnvironmentRow[]> {
  const { principal } = ctx;
  if (principal.kind === 'API_KEY') {
    if (accountId && accountId !== principal.key.accountId) return [];
    return [(await reachEnvironment(ctx, principal.key.environmentId)).env];
  }
  const accounts = accountId ? [accountId].filter((id) => principal.roles.has(id)) : [...principal.roles.keys()];
  const envs = await findEnvironmentsOfAccounts(ctx.db, accounts);
  for (const env of envs) ctx.loaders.environment.prime(env.id, env);
  return envs;
}

export function slugify(name: string): string {
  return (
    name
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 48) || 'environment'
  );
}

export interface ProvisionedEnvironment {
  env: EnvironmentRow;
  fullAccess: IssuedKey;
  publishable: IssuedKey;
}

/** Creates an environment with its signing secret, full access key and publishable key, in one transaction. */
export async function provisionEnvironment(
  trx: Transaction<Database>,
  deps: Pick<Deps, 'secretBox'>,
  input: { accountId: string; name: string; actor: Actor; now: Date },
): Promise<ProvisionedEnvironment> {
  const taken = new Set(await findSlugsOfAccount(trx, input.accountId));
  const base = slugify(input.name);
  let slug = base;
  for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`;
  const id = newId('env');
  const env: EnvironmentRow = {
    id,
    account_id: input.accountId,
    name: input.name,
    slug,
    client_side_security: 'NOT_ENFORCED',
    signing_secret_encrypted: deps.secretBox.seal(randomBytes(32).toString('hex'), id),
    created_at: input.now.toISOString(),
  };
  await insertEnvironment(trx, env);
  const common = {
    accountId: input.accountId,
    environmentId: id,
    description: null,
    scopes: null,
    actor: input.actor,
    now: input.now,
  };
  const fullAccess = await issueKey(trx, deps, { ...common, type: 'FULL_ACCESS', name: DEFAULT_KEY_NAMES.FULL_ACCESS });
  const publishable = await issueKey(trx, deps, { ...common, type: 'PUBLISHABLE', name: DEFAULT_KEY_NAMES.PUBLISHABLE });
  return { env, fullAccess, publishable };
}

/** createEnvironment: account owners only (a session, not a key). */
export async function createEnvironment(ctx: RequestContext, input: { accountId: string; name: string }) {
  const { principal } = ctx;
  const account = await ctx.loaders.account.load(input.accountId);
  const grants = account ? grantsOn(principal, { account_id: account.id }) : null;
  if (!account || !grants) throw notFound('Account');
  assertGranted(grants, ENVIRONMENT_NEEDS.create);
  const name = requireText('name', input.name, ENVIRONMENT_NAME_MAX);
  return ctx.db
    .transaction()
    .execute((trx) =>
      provisionEnvironment(trx, ctx.deps, { accountId: account.id, name, actor: principal.actor, now: ctx.clock.now() }),
    );
}

/** The HMAC signing secret for customer tokens: owners and the full access key only. */
export async function revealSigningSecret(ctx: RequestContext, env: EnvironmentRow): Promise<string> {
  const { grants } = await reachEnvironment(ctx, env.id);
  assertGranted(grants, ENVIRONMENT_NEEDS.manage);
  return ctx.deps.secretBox.open(env.signing_secret_encrypted, env.id);
}
