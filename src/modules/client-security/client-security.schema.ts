import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import { optionalId } from '../common/common.schema.js';
import { EnvironmentRef } from '../environment/environment.schema.js';
import { ENVIRONMENT_NEEDS } from '../environment/environment.service.js';
import type { EnvironmentRow } from '../environment/environment.table.js';
import { requires } from '../permission/permission.guard.js';
import { rotateSigningSecret, setClientSideSecurity } from './client-security.service.js';

const EnvironmentPayload = builder.objectRef<EnvironmentRow>('EnvironmentPayload').implement({
  fields: (t) => ({ environment: t.field({ type: EnvironmentRef, resolve: (env) => env }) }),
});

const SetClientSideSecurityInput = builder.inputType('SetClientSideSecurityInput', {
  fields: (t) => ({ environmentId: t.id({ required: false }), enforced: t.boolean({ required: true }) }),
});

const RotateSigningSecretInput = builder.inputType('RotateSigningSecretInput', {
  fields: (t) => ({ environmentId: t.id({ required: false }) }),
});

builder.mutationFields((t) => ({
  setClientSideSecurity: t.field({
    ...activity('Set client-side security'),
    ...requires(ENVIRONMENT_NEEDS.manage),
    type: EnvironmentPayload,
    description: 'When enforced, publishable-key customer reads need an X-Customer-Token. Owners and the full access key.',
    args: { input: t.arg({ type: SetClientSideSecurityInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      setClientSideSecurity(ctx, {
        environmentId: optionalId(input.environmentId),
        enforced: input.enforced,
      }),
  }),
  rotateSigningSecret: t.field({
    ...activity('Rotate signing secret'),
    ...requires(ENVIRONMENT_NEEDS.manage),
    type: EnvironmentPayload,
    description: 'Replaces the signing secret at once: tokens signed with the old one stop verifying.',
    args: { input: t.arg({ type: RotateSigningSecretInput, required: true }) },
    resolve: (_root, { input }, ctx) => rotateSigningSecret(ctx, { environmentId: optionalId(input.environmentId) }),
  }),
}));
