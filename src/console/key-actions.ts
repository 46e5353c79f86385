/// <reference lib="dom" />
import type { ApiKeyFieldsFragment } from '../client/generated/graphql.js';
import type { ConsoleContext, Permission } from './console-context.js';
import { graceChoices, openDialog, showSecretOnce } from './dialogs.js';
import { h } from './dom.js';
import { formatDate, formatRelative, resourceLabel } from './labels.js';

export type ApiKey = ApiKeyFieldsFragment;

/** Which lifecycle actions the page offers for a key: owners only (SPEC §4), and only where the server would allow them. */
export function offeredActions(ctx: ConsoleContext, key: ApiKey) {
  const owner = ctx.isOwner;
  return {
    rotate: owner && key.status === 'ACTIVE',
    changeGrace: owner && key.status === 'EXPIRING_SOON',
    revoke: owner && key.type === 'SCOPED' && key.status !== 'EXPIRED',
    reveal: owner && key.status !== 'EXPIRED',
    edit: owner && key.status !== 'EXPIRED',
  };
}

/** Resources of the catalogue in catalogue order, each with its read and write permission names. */
export function resources(permissions: readonly Permission[]) {
  const byResource = new Map<string, { resource: string; read?: Permission; write?: Permission }>();
  for (const permission of permissions) {
    const entry = byResource.get(permission.resource) ?? { resource: permission.resource };
    if (permission.access === 'READ') entry.read = permission;
    else entry.write = permission;
    byResource.set(permission.resource, entry);
  }
  return [...byResource.values()];
}

/** Dialogs for key lifecycle actions; `changed` reloads the page's data (and may focus a key). */
export function keyActions(ctx: ConsoleContext, changed: (focusKeyId?: string) => Promise<void>) {
  return {
    rotate(key: ApiKey) {
      const grace = graceChoices('rotate-grace');
      openDialog({
        title: `Rotate “${key.name}”`,
        testid: 'rotate-dialog',
        body: [
          h(
            'p',
            {},
            'A new key with the same type, name, description and permissions replaces this one. Its secret is shown once.',
          ),
          grace.element,
        ],
        confirmLabel: 'Rotate key',
        async onConfirm() {
          const result = await ctx.client.rotateApiKey({ id: key.id, expireOldKeyIn: grace.value() });
          const expiresAt = result.previousKey.expiresAt;
          await changed(result.apiKey.id);
          showSecretOnce(
            'Key rotated',
            result.secret,
            expiresAt && result.previousKey.status !== 'EXPIRED'
              ? `The old key keeps working until ${formatDate(expiresAt)} (${formatRelative(expiresAt)}).`
              : 'The old key has stopped working.',
          );
        },
      });
    },

    changeGrace(key: ApiKey) {
      const grace = graceChoices('change-grace', 'ONE_DAY');
      openDialog({
        title: `Change grace period of “${key.name}”`,
        testid: 'grace-dialog',
        body: [
          key.expiresAt
            ? h('p', {}, `It currently stops working ${formatRelative(key.expiresAt)} (${formatDate(key.expiresAt)}).`)
            : null,
          grace.element,
        ],
        confirmLabel: 'Change grace period',
        async onConfirm() {
          await ctx.client.changeGracePeriod({ id: key.id, expireIn: grace.value() });
          await changed(key.id);
          ctx.notify(`Grace period of “${key.name}” changed.`);
        },
      });
    },

    revoke(key: ApiKey) {
      openDialog({
        title: `Revoke “${key.name}”?`,
        testid: 'revoke-dialog',
        body: h('p', {}, `Anything using ${key.maskedKey} stops working on its very next request. Revocation cannot be undone.`),
        confirmLabel: 'Revoke key',
        danger: true,
        async onConfirm() {
          await ctx.client.revokeApiKey({ id: key.id });
          await changed(key.id);
          ctx.notify(`“${key.name}” was revoked.`);
        },
      });
    },

    addScopedKey() {
      const name = h('input', { id: 'new-key-name', testid: 'new-key-name', required: true, maxlength: 100 });
      const description = h('textarea', { id: 'new-key-description', testid: 'new-key-description', rows: 2, maxlength: 500 });
      const scopeSelects = resources(ctx.permissions).map((r) => ({
        r,
        select: h(
          'select',
          { testid: `new-key-scope-${r.resource}`, 'aria-label': `${resourceLabel(r.resource)} access` },
          h('option', { value: '' }, 'No access'),
          r.read ? h('option', { value: r.read.name }, 'Read') : null,
          r.write ? h('option', { value: r.write.name }, 'Read and write') : null,
        ),
      }));
      openDialog({
        title: 'Add scoped key',
        testid: 'add-key-dialog',
        body: [
          h('label', { for: 'new-key-name' }, 'Name'),
          name,
          h('label', { for: 'new-key-description' }, 'Description (optional)'),
          description,
          h(
            'table',
            { class: 'scope-table' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Resource'), h('th', {}, 'Access'))),
            h(
              'tbody',
              {},
              scopeSelects.map(({ r, select }) =>
                h(
                  'tr',
                  {},
                  h('td', { title: (r.write ?? r.read)?.description ?? '' }, resourceLabel(r.resource)),
                  h('td', {}, select),
                ),
              ),
            ),
          ),
        ],
        confirmLabel: 'Create key',
        async onConfirm() {
          const scopes = scopeSelects.map((s) => s.select.value).filter(Boolean);
          const created = await ctx.client.createScopedKey({
            environmentId: ctx.environment.id,
            name: name.value.trim(),
            description: description.value.trim() || null,
            scopes,
          });
          await changed(created.apiKey.id);
          showSecretOnce(
            `“${created.apiKey.name}” created`,
            created.secret,
            `Store it in your secret manager. ${created.apiKey.maskedKey} is how it appears from now on.`,
          );
        },
      });
    },
  };
}

export type KeyActions = ReturnType<typeof keyActions>;
