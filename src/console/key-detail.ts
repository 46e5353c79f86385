/// <reference lib="dom" />
import type { ApiKeyDetailQuery } from '../client/generated/graphql.js';
import type { ConsoleContext } from './console-context.js';
import { copyButton } from './dialogs.js';
import { type Child, h, mount } from './dom.js';
import { errorBox } from './error-messages.js';
import { type KeyActions, offeredActions, resources } from './key-actions.js';
import { expiringKeyUsage } from './key-usage.js';
import { AUDIT_EVENT_LABEL, formatDate, formatRelative, KEY_TYPE_LABEL, resourceLabel, STATUS_LABEL } from './labels.js';

type KeyDetail = NonNullable<ApiKeyDetailQuery['apiKey']>;
type AuditEvent = KeyDetail['auditLog']['edges'][number]['node'];
type Tab = 'overview' | 'permissions' | 'activity';

const AUDIT_PAGE_SIZE = 50;

export interface KeyDetailOptions {
  actions: KeyActions;
  /** Reloads the key list after a change made here (rename, scopes). */
  changed(focusKeyId?: string): Promise<void>;
  open(keyId: string): void;
  close(): void;
}

export function statusBadge(status: KeyDetail['status'], testid = 'key-status'): HTMLElement {
  return h(
    'span',
    { class: `status status-${status.toLowerCase().replace('_', '-')}`, testid, 'data-status': status },
    STATUS_LABEL[status],
  );
}

/** The key detail panel: overview, permissions and the key's audit log, with its lifecycle actions. */
export function renderKeyDetail(
  ctx: ConsoleContext,
  keyId: string,
  panel: HTMLElement,
  options: KeyDetailOptions,
  tab: Tab = 'overview',
): void {
  panel.hidden = false;
  panel.dataset.keyId = keyId;
  mount(panel, h('p', { class: 'muted' }, 'Loading key…'));
  ctx.client.apiKey({ id: keyId, first: AUDIT_PAGE_SIZE }).then(
    (key) => {
      if (panel.dataset.keyId !== keyId) return;
      if (!key) {
        mount(panel, h('p', {}, 'This key no longer exists.'));
        return;
      }
      draw(ctx, key, panel, options, tab);
    },
    (error) => panel.dataset.keyId === keyId && mount(panel, errorBox(error)),
  );
}

function draw(ctx: ConsoleContext, key: KeyDetail, panel: HTMLElement, options: KeyDetailOptions, initialTab: Tab): void {
  const offered = offeredActions(ctx, key);
  const body = h('div', { class: 'tab-body' });
  const tabs: Record<Tab, { label: string; render: () => Child }> = {
    overview: { label: 'Overview', render: () => overview(ctx, key, options) },
    permissions: { label: 'Permissions', render: () => permissionsTab(ctx, key, options) },
    activity: { label: 'Activity', render: () => auditTab(ctx, key) },
  };
  const tabButtons = (Object.keys(tabs) as Tab[]).map((tab) =>
    h(
      'button',
      { type: 'button', role: 'tab', class: 'tab', testid: `tab-${tab}`, 'data-tab': tab, onclick: () => select(tab) },
      tabs[tab].label,
    ),
  );
  const select = (tab: Tab) => {
    for (const button of tabButtons) button.setAttribute('aria-selected', String(button.dataset.tab === tab));
    mount(body, tabs[tab].render());
  };

  mount(
    panel,
    h(
      'div',
      { class: 'detail-head' },
      h(
        'div',
        {},
        h('h2', { testid: 'detail-name' }, key.name),
        h('p', { class: 'muted' }, KEY_TYPE_LABEL[key.type], ' key · ', key.environment.name),
      ),
      h(
        'button',
        { type: 'button', class: 'button ghost', 'aria-label': 'Close', testid: 'detail-close', onclick: options.close },
        '×',
      ),
    ),
    h(
      'div',
      { class: 'detail-actions' },
      offered.rotate
        ? h('button', { class: 'button', testid: 'detail-rotate', onclick: () => options.actions.rotate(key) }, 'Rotate key…')
        : null,
      offered.changeGrace
        ? h(
            'button',
            { class: 'button', testid: 'detail-grace', onclick: () => options.actions.changeGrace(key) },
            'Change grace period…',
          )
        : null,
      offered.revoke
        ? h('button', { class: 'button danger', testid: 'detail-revoke', onclick: () => options.actions.revoke(key) }, 'Revoke…')
        : null,
    ),
    h('div', { class: 'tabs', role: 'tablist' }, tabButtons),
    body,
  );
  select(initialTab);
}

/** When the key was rotated, from the latest page of its audit log (null when that page does not reach back to it). */
function rotatedAt(key: KeyDetail): string | null {
  return key.auditLog.edges.find(({ node }) => node.event === 'KEY_ROTATED')?.node.timestamp ?? null;
}

function row(label: string, ...value: Child[]): Child {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

function overview(ctx: ConsoleContext, key: KeyDetail, options: KeyDetailOptions): HTMLElement {
  const offered = offeredActions(ctx, key);
  const container = h('div');
  const secretValue = h('code', { class: 'masked', testid: 'detail-masked-key' }, key.maskedKey);
  const secretArea = h('span', { class: 'secret-row' }, secretValue);
  const revealError = h('div');
  let revealed: string | null = null;

  const showHide: HTMLButtonElement | null = offered.reveal
    ? h(
        'button',
        {
          type: 'button',
          class: 'button small',
          testid: 'reveal-toggle',
          onclick: async () => {
            mount(revealError);
            if (revealed !== null) {
              revealed = null;
              secretValue.textContent = key.maskedKey;
              secretValue.dataset.testid = 'detail-masked-key';
              showHide!.textContent = 'Show';
              copy.hidden = true;
              return;
            }
            showHide!.disabled = true;
            try {
              revealed = await ctx.client.revealApiKey(key.id);
              if (revealed) {
                secretValue.textContent = revealed;
                secretValue.dataset.testid = 'detail-secret';
                showHide!.textContent = 'Hide';
                copy.hidden = false;
              }
            } catch (error) {
              mount(revealError, errorBox(error));
            } finally {
              showHide!.disabled = false;
            }
          },
        },
        'Show',
      )
    : null;
  const copy = copyButton(
    () => revealed ?? '',
    () => secretValue,
    'reveal-copy',
  );
  copy.hidden = true;
  secretArea.append(...(showHide ? [showHide, copy] : []));

  const link = (id: string, label: string) =>
    h(
      'a',
      {
        href: '#keys',
        onclick: (event: Event) => {
          event.preventDefault();
          options.open(id);
        },
      },
      label,
    );

  mount(
    container,
    offered.edit ? editForm(ctx, key, options) : null,
    h(
      'dl',
      { class: 'facts' },
      row('Name', key.name),
      row('Description', key.description || h('span', { class: 'muted' }, 'None')),
      row('Type', KEY_TYPE_LABEL[key.type], key.integration ? ` (${key.integration.type})` : ''),
      row('Key', secretArea, revealError),
      row('Status', statusBadge(key.status, 'detail-status')),
      key.expiresAt && !key.revokedAt
        ? row(
            key.status === 'EXPIRED' ? 'Expired' : 'Expires',
            h('span', { testid: 'detail-expires' }, `${formatDate(key.expiresAt)} (${formatRelative(key.expiresAt)})`),
            expiringKeyUsage(key, { rotatedAt: rotatedAt(key), testid: 'detail-key-usage' }),
          )
        : null,
      key.revokedAt ? row('Revoked', formatDate(key.revokedAt)) : null,
      row('Created', formatDate(key.createdAt), ' by ', key.createdBy.displayName),
      row('Environment', key.environment.name),
      row('Last used', key.lastUsedAt ? formatDate(key.lastUsedAt) : h('span', { class: 'muted' }, 'Never')),
      key.rotatedFrom
        ? row('Replaces', link(key.rotatedFrom.id, `previous key (${STATUS_LABEL[key.rotatedFrom.status]})`))
        : null,
      key.rotatedTo ? row('Replaced by', link(key.rotatedTo.id, `new key (${STATUS_LABEL[key.rotatedTo.status]})`)) : null,
    ),
  );
  return container;
}

/** Name (scoped keys) and description, behind an Edit button. */
function editForm(ctx: ConsoleContext, key: KeyDetail, options: KeyDetailOptions): HTMLElement {
  const wrapper = h('div', { class: 'edit' });
  const closed = () =>
    mount(
      wrapper,
      h(
        'button',
        { type: 'button', class: 'button small', testid: 'edit-key', onclick: open },
        key.nameEditable ? 'Edit name and description' : 'Edit description',
      ),
    );
  const open = () => {
    const name = key.nameEditable
      ? h('input', { id: 'edit-name', testid: 'edit-name', value: key.name, required: true, maxlength: 100 })
      : null;
    const description = h(
      'textarea',
      { id: 'edit-description', testid: 'edit-description', rows: 2, maxlength: 500 },
      key.description ?? '',
    );
    const errorArea = h('div');
    mount(
      wrapper,
      h(
        'form',
        {
          class: 'card inset',
          onsubmit: async (event: Event) => {
            event.preventDefault();
            mount(errorArea);
            try {
              await ctx.client.updateApiKey({
                id: key.id,
                ...(name ? { name: name.value.trim() } : {}),
                description: description.value.trim() || null,
              });
              await options.changed(key.id);
              ctx.notify('Key updated.');
            } catch (error) {
              mount(errorArea, errorBox(error));
            }
          },
        },
        name ? [h('label', { for: 'edit-name' }, 'Name'), name] : null,
        h('label', { for: 'edit-description' }, 'Description'),
        description,
        errorArea,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'button ghost', onclick: closed }, 'Cancel'),
          h('button', { type: 'submit', class: 'button primary', testid: 'edit-save' }, 'Save'),
        ),
      ),
    );
  };
  closed();
  return wrapper;
}

function permissionsTab(ctx: ConsoleContext, key: KeyDetail, options: KeyDetailOptions): HTMLElement {
  const editable = key.scopesEditable && ctx.isOwner && key.status !== 'EXPIRED';
  const held = new Set(key.scopes);
  const catalogue = new Set(ctx.permissions.map((p) => p.name));
  const boxes: HTMLInputElement[] = [];
  const box = (name: string | undefined, description: string | undefined) => {
    if (!name) return h('span', { class: 'muted' }, '—');
    const input = h('input', {
      type: 'checkbox',
      checked: held.has(name),
      disabled: !editable,
      value: name,
      testid: `scope-${name}`,
      title: description ?? '',
      'aria-label': name,
    });
    boxes.push(input);
    return input;
  };
  // Write implies read: ticking write ticks read and holds it.
  const syncImplied = () => {
    for (const input of boxes) {
      if (!input.value.endsWith(':write')) continue;
      const read = boxes.find((b) => b.value === input.value.replace(/:write$/, ':read'));
      if (!read) continue;
      if (input.checked) read.checked = true;
      if (editable) read.disabled = input.checked;
    }
  };
  const errorArea = h('div');
  const fixed = key.scopes.filter((s) => !catalogue.has(s));
  const container = h(
    'div',
    { testid: 'permissions' },
    editable
      ? h('p', { class: 'muted' }, 'Tick what this key may do; write implies read. Changes apply on the key’s next request.')
      : h(
          'p',
          { class: 'muted', testid: 'permissions-read-only' },
          key.type === 'SCOPED'
            ? 'Only owners can change this key’s permissions.'
            : key.type === 'INTEGRATION'
              ? 'Integration keys have the fixed scope of their integration.'
              : key.type === 'FULL_ACCESS'
                ? 'The full access key holds every permission, including future ones.'
                : 'The publishable key has a fixed client scope.',
        ),
    h(
      'table',
      { class: 'scope-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Resource'), h('th', {}, 'Read'), h('th', {}, 'Write'))),
      h(
        'tbody',
        { onchange: syncImplied },
        resources(ctx.permissions).map((r) =>
          h(
            'tr',
            {},
            h('td', {}, resourceLabel(r.resource)),
            h('td', {}, box(r.read?.name, r.read?.description)),
            h('td', {}, box(r.write?.name, r.write?.description)),
          ),
        ),
      ),
    ),
    fixed.length
      ? h(
          'p',
          { class: 'muted' },
          'Fixed client scope: ',
          fixed.map((s, i) => [i ? ', ' : '', h('code', {}, s)]),
        )
      : null,
    errorArea,
    editable
      ? h(
          'button',
          {
            type: 'button',
            class: 'button primary',
            testid: 'save-scopes',
            onclick: async () => {
              mount(errorArea);
              try {
                const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
                await ctx.client.updateApiKeyScopes({ id: key.id, scopes });
                await options.changed(key.id);
                ctx.notify('Permissions saved.');
              } catch (error) {
                mount(errorArea, errorBox(error));
              }
            },
          },
          'Save permissions',
        )
      : null,
  );
  syncImplied();
  return container;
}

/** The key's audit log, fetched fresh each time the tab opens (a reveal adds an entry). */
function auditTab(ctx: ConsoleContext, key: KeyDetail): HTMLElement {
  const container = h('div', { testid: 'audit-log' }, h('p', { class: 'muted' }, 'Loading…'));
  const tbody = h('tbody', { testid: 'audit-body' });
  const footer = h('div', { class: 'audit-footer' });
  let shown = 0;

  const row = (node: AuditEvent) =>
    h(
      'tr',
      { testid: 'audit-row', 'data-event': node.event },
      h('td', {}, formatDate(node.timestamp, { seconds: true })),
      h('td', {}, AUDIT_EVENT_LABEL[node.event]),
      h('td', { testid: 'audit-actor' }, node.actor.displayName),
    );

  /** Appends the next page (newest first) and offers the one after it. */
  async function loadPage(after: string | null): Promise<void> {
    const fresh = await ctx.client.apiKey({ id: key.id, first: AUDIT_PAGE_SIZE, after });
    const log = fresh?.auditLog;
    if (!log || (after === null && log.edges.length === 0)) {
      mount(container, h('p', { class: 'muted' }, 'No events yet.'));
      return;
    }
    if (after === null) {
      mount(
        container,
        h(
          'table',
          { class: 'table compact' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Event'), h('th', {}, 'Actor'))),
          tbody,
        ),
        footer,
      );
    }
    for (const { node } of log.edges) tbody.append(row(node));
    shown += log.edges.length;
    const older: HTMLButtonElement = h(
      'button',
      {
        type: 'button',
        class: 'button small',
        testid: 'audit-older',
        onclick: () => {
          older.disabled = true;
          loadPage(log.pageInfo.endCursor ?? null).catch((error) => mount(footer, errorBox(error)));
        },
      },
      'Show older events',
    );
    mount(
      footer,
      h('span', { class: 'muted', testid: 'audit-summary' }, `${shown} of ${log.totalCount} events`),
      log.pageInfo.hasNextPage ? older : null,
    );
  }

  loadPage(null).catch((error) => mount(container, errorBox(error)));
  return container;
}
