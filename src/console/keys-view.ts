/// <reference lib="dom" />
import type { ApiKeyCategory, ApiKeyFilter, ApiKeyStatus } from '../client/generated/graphql.js';
import type { ConsoleContext } from './console-context.js';
import { h, mount } from './dom.js';
import { type ApiKey, keyActions, offeredActions } from './key-actions.js';
import { renderKeyDetail, statusBadge } from './key-detail.js';
import { expiringKeyUsage } from './key-usage.js';
import { CATEGORY_LABEL, formatDate, KEY_TYPE_LABEL, STATUS_FILTER_LABEL } from './labels.js';
import { renderPublishablePanel } from './publishable-panel.js';

const PAGE_SIZE = 20;

function filterSelect<T extends string>(
  testid: string,
  label: string,
  allLabel: string,
  labels: Record<T, string>,
  onchange: (value: T | '') => void,
) {
  const select = h(
    'select',
    { testid, 'aria-label': label, onchange: () => onchange(select.value as T | '') },
    h('option', { value: '' }, allLabel),
    (Object.keys(labels) as T[]).map((value) => h('option', { value }, labels[value])),
  );
  return h('label', { class: 'filter' }, label, select);
}

/** API keys of the environment: filters, table with row menus, pagination, the detail panel and the publishable key panel. */
export function renderKeysView(ctx: ConsoleContext): HTMLElement {
  const state = {
    category: '' as ApiKeyCategory | '',
    status: '' as ApiKeyStatus | '',
    /** `after` cursor of each page visited so far. */
    cursors: [null] as (string | null)[],
    page: 0,
    selectedId: null as string | null,
    loadSeq: 0,
  };
  const tbody = h('tbody', { testid: 'keys-body' });
  const pager = h('div', { class: 'pager', testid: 'pager' });
  const detail = h('aside', { class: 'detail card', testid: 'key-detail', hidden: true });
  const publishable = h('section', { class: 'card publishable', testid: 'publishable-panel' });

  const changed = async (focusKeyId?: string) => {
    await load();
    if (focusKeyId) openDetail(focusKeyId);
    renderPublishablePanel(ctx, publishable);
  };
  const actions = keyActions(ctx, changed);
  const detailOptions = { actions, changed, open: (id: string) => openDetail(id), close: () => closeDetail() };

  function openDetail(id: string) {
    state.selectedId = id;
    for (const tr of tbody.querySelectorAll<HTMLElement>('tr[data-key-id]'))
      tr.classList.toggle('selected', tr.dataset.keyId === id);
    renderKeyDetail(ctx, id, detail, detailOptions);
  }
  function closeDetail() {
    state.selectedId = null;
    detail.hidden = true;
    delete detail.dataset.keyId;
    for (const tr of tbody.querySelectorAll('tr.selected')) tr.classList.remove('selected');
  }

  const turnPage = (delta: number) => {
    state.page += delta;
    void load();
  };
  const resetAndLoad = () => {
    state.cursors = [null];
    state.page = 0;
    void load();
  };

  async function load(): Promise<void> {
    const seq = ++state.loadSeq;
    const filter: ApiKeyFilter = {
      ...(state.category ? { categories: [state.category] } : {}),
      ...(state.status ? { statuses: [state.status] } : {}),
    };
    tbody.setAttribute('aria-busy', 'true');
    try {
      const keys = await ctx.client.apiKeys({
        environmentId: ctx.environment.id,
        filter,
        first: PAGE_SIZE,
        after: state.cursors[state.page] ?? null,
      });
      if (seq !== state.loadSeq) return;
      state.cursors[state.page + 1] = keys.pageInfo.endCursor;
      // Which filters the rows on show answer (tests wait for these rather than for time).
      tbody.dataset.loadedCategory = state.category;
      tbody.dataset.loadedStatus = state.status;
      mount(
        tbody,
        keys.edges.length === 0
          ? h('tr', {}, h('td', { colspan: 6, class: 'empty', testid: 'keys-empty' }, 'No keys match these filters.'))
          : keys.edges.map(({ node }) => keyRow(node)),
      );
      const from = keys.edges.length ? state.page * PAGE_SIZE + 1 : 0;
      mount(
        pager,
        h('span', { testid: 'pager-summary' }, `${from}–${state.page * PAGE_SIZE + keys.edges.length} of ${keys.totalCount}`),
        h(
          'button',
          {
            class: 'button small',
            testid: 'page-previous',
            disabled: state.page === 0,
            onclick: () => turnPage(-1),
          },
          'Previous',
        ),
        h(
          'button',
          {
            class: 'button small',
            testid: 'page-next',
            disabled: !keys.pageInfo.hasNextPage,
            onclick: () => turnPage(1),
          },
          'Next',
        ),
      );
    } catch (error) {
      if (seq === state.loadSeq) ctx.showError(error);
    } finally {
      if (seq === state.loadSeq) tbody.removeAttribute('aria-busy');
    }
  }

  function keyRow(key: ApiKey): HTMLElement {
    return h(
      'tr',
      {
        testid: 'key-row',
        'data-key-id': key.id,
        'data-status': key.status,
        class: key.id === state.selectedId ? 'selected' : undefined,
        onclick: (event: Event) => {
          if (!(event.target as Element).closest('.row-menu')) openDetail(key.id);
        },
      },
      h('td', {}, h('button', { type: 'button', class: 'link', testid: 'key-name' }, key.name)),
      h('td', { testid: 'key-type' }, KEY_TYPE_LABEL[key.type]),
      h('td', {}, h('code', { class: 'masked', testid: 'key-masked' }, key.maskedKey)),
      h('td', {}, statusBadge(key.status), expiringKeyUsage(key)),
      h('td', { testid: 'key-created' }, formatDate(key.createdAt)),
      h('td', { class: 'row-menu' }, rowMenu(key)),
    );
  }

  function rowMenu(key: ApiKey): HTMLElement {
    const offered = offeredActions(ctx, key);
    const item = (testid: string, label: string, run: () => void, danger = false) =>
      h(
        'button',
        {
          type: 'button',
          role: 'menuitem',
          class: danger ? 'menu-item danger' : 'menu-item',
          testid,
          onclick: () => {
            menu.hidden = true;
            run();
          },
        },
        label,
      );
    const menu = h(
      'div',
      { class: 'menu', role: 'menu', hidden: true, testid: 'row-menu-items' },
      item('menu-view', 'View details', () => openDetail(key.id)),
      offered.rotate ? item('menu-rotate', 'Rotate key…', () => actions.rotate(key)) : null,
      offered.changeGrace ? item('menu-grace', 'Change grace period…', () => actions.changeGrace(key)) : null,
      offered.revoke ? item('menu-revoke', 'Revoke…', () => actions.revoke(key), true) : null,
    );
    const toggle = h(
      'button',
      {
        type: 'button',
        class: 'button ghost kebab',
        'aria-label': `Actions for ${key.name}`,
        'aria-haspopup': 'menu',
        testid: 'row-menu',
        onclick: () => {
          const wasHidden = menu.hidden;
          for (const open of document.querySelectorAll<HTMLElement>('.menu')) open.hidden = true;
          menu.hidden = !wasHidden;
        },
      },
      '⋮',
    );
    return h('div', { class: 'menu-anchor' }, toggle, menu);
  }

  const toolbar = h(
    'div',
    { class: 'toolbar' },
    filterSelect('filter-type', 'Type', 'All types', CATEGORY_LABEL, (value) => {
      state.category = value;
      resetAndLoad();
    }),
    filterSelect('filter-status', 'Status', 'All statuses', STATUS_FILTER_LABEL, (value) => {
      state.status = value;
      resetAndLoad();
    }),
    h('span', { class: 'spacer' }),
    ctx.isOwner
      ? h(
          'button',
          { class: 'button primary', testid: 'add-scoped-key', onclick: () => actions.addScopedKey() },
          'Add scoped key',
        )
      : null,
  );

  const view = h(
    'div',
    { class: 'keys-view', testid: 'keys-view' },
    h('h1', {}, 'API keys'),
    h(
      'p',
      { class: 'muted' },
      ctx.isOwner
        ? 'Keys of this environment. Scoped keys carry only the permissions you give them.'
        : 'Keys of this environment. Only account owners can create, rotate, revoke or reveal keys.',
    ),
    publishable,
    h(
      'div',
      { class: 'split' },
      h(
        'section',
        { class: 'card keys-card' },
        toolbar,
        h(
          'table',
          { class: 'table', testid: 'keys-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'Name'),
              h('th', {}, 'Type'),
              h('th', {}, 'Key'),
              h('th', {}, 'Status'),
              h('th', {}, 'Created'),
              h('th', { 'aria-label': 'Actions' }),
            ),
          ),
          tbody,
        ),
        pager,
      ),
      detail,
    ),
  );
  // One click anywhere else closes an open row menu.
  view.addEventListener('click', (event) => {
    if ((event.target as Element).closest('.menu-anchor')) return;
    for (const open of view.querySelectorAll<HTMLElement>('.menu')) open.hidden = true;
  });
  void load();
  renderPublishablePanel(ctx, publishable);
  return view;
}
