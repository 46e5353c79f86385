import { builder } from '../../builder.js';
import { AccountRef } from '../account/account.schema.js';
import { activity } from '../activity/activity.labels.js';
import { IssuedApiKeyRef } from '../api-key/api-key.schema.js';
import { reachEnvironment } from '../auth/tenancy.js';
import { NodeRef } from '../common/common.schema.js';
import { requires } from '../permission/permission.guard.js';
import {
  createEnvironment,
  ENVIRONMENT_NEEDS,
  listEnvironments,
  type ProvisionedEnvironment,
  revealSigningSecret,
} from './environment.service.js';
import type { EnvironmentRow } from './environment.table.js';

export const ClientSideSecurityEnum = builder.enumType('ClientSideSecurity', {
  values: ['NOT_ENFORCED', 'ENFORCED'] as const,
});

export const EnvironmentRef = builder.objectRef<EnvironmentRow>('Environment');

EnvironmentRef.implement({
  interfaces: [NodeRef],
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    account: t.field({
      type: AccountRef,
      resolve: async (env, _args, ctx) => (await ctx.loaders.account.load(env.account_id))!,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (env) => env.created_at }),
    clientSideSecurity: t.field({ type: ClientSideSecurityEnum, resolve: (env) => env.client_side_security }),
    signingSecret: t.string({
      ...requires(ENVIRONMENT_NEEDS.manage),
      nullable: true,
      description: 'HMAC-SHA256 secret for customer tokens. Owners and full access keys only.',
      resolve: (env, _args, ctx) => revealSigningSecret(ctx, env),
    }),
  }),
});

builder.queryFields((t) => ({
  environments: t.field({
    ...activity('List environments'),
    ...requires(ENVIRONMENT_NEEDS.read),
    type: [EnvironmentRef],
    resolve: (_root, _args, ctx) => listEnvironments(ctx),
  }),
  environment: t.field({
    ...activity('View environment'),
    ...requires(ENVIRONMENT_NEEDS.read),
    type: EnvironmentRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => (await reachEnvironment(ctx, String(args.id))).env,
  }),
}));

const CreateEnvironmentInput = builder.inputType('CreateEnvironmentInput', {
  fields: (t) => ({
    accountId: t.id({ required: true }),
    name: t.string({ required: true, description: '1 to 100 characters.' }),
  }),
});

const CreateEnvironmentPayload = builder.objectRef<ProvisionedEnvironment>('CreateEnvironmentPayload').implement({
  fields: (t) => ({
    environment: t.field({ type: EnvironmentRef, resolve: (p) => p.env }),
    fullAccessKey: t.field({ type: IssuedApiKeyRef, resolve: (p) => p.fullAccess }),
    publishableKey: t.field({ type: IssuedApiKeyRef, resolve: (p) => p.publishable }),
  }),
});

builder.mutationField('createEnvironment', (t) =>
  t.field({
    ...activity('Create environment'),
    ...requires(ENVIRONMENT_NEEDS.create),
    type: CreateEnvironmentPayload,
    description: 'Account owners only: creates an environment with its full access and publishable keys.',
    args: { input: t.arg({ type: CreateEnvironmentInput, required: true }) },
    resolve: (_root, { input }, ctx) => createEnvironment(ctx, { accountId: String(input.accountId), name: input.name }),
  }),
);
