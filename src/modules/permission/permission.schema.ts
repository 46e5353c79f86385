import { builder } from '../../builder.js';
import { activity } from '../activity/activity.labels.js';
import type { PermissionDefinition } from './permission.catalogue.js';
import { authenticated } from './permission.guard.js';

const PermissionRef = builder.objectRef<PermissionDefinition>('Permission').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    resource: t.exposeString('resource'),
    access: t.field({
      type: builder.enumType('PermissionAccess', { values: ['READ', 'WRITE'] as const }),
      resolve: (p) => p.access,
    }),
    description: t.exposeString('description'),
  }),
});

builder.queryField('permissions', (t) =>
  t.field({
    ...activity('List permissions'),
    ...authenticated,
    type: [PermissionRef],
    description: 'The permission catalogue: every permission a scoped key can be given.',
    resolve: (_root, _args, ctx) => ctx.deps.gateway.catalogue.definitions,
  }),
);
