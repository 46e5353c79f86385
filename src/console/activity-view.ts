/// <reference lib="dom" />
import type { ActivityFilter, ActivityOutcome } from '../client/generated/graphql.js';
import type { ConsoleContext } from './console-context.js';
import { h, mount } from './dom.js';
import { formatDate, KEY_TYPE_LABEL, OUTCOME_LABEL } from './labels.js';

const PAGE_SIZE = 25;

/** Logs → Activity: the environment's API calls, newest first, with the key used; filterable by key and outcome. */
export function renderActivityView(ctx: ConsoleContext): HTMLElement {
  const state = { apiKeyId: '', outcome: '' as ActivityOutcome | '', cursors: [null] as (string | null)[], page: 0, seq: 0 };
  const tbody = h('tbody', { testid: 'activity-body' });
  const pager = h('div', { class: 'pager' });

  const keySelect = h(
    'select',
    {
      testid: 'activity-filter-key',
      'aria-label': 'Key',
      onchange: () => {
        state.apiKeyId = keySelect.value;
        reset();
      },
    },
    h('option', { value: '' }, 'All keys'),
  );
  const outcomeSelect = h(
    'select',
    {
      testid: 'activity-filter-outcome',
      'aria-label': 'Outcome',
      onchange: () => {
        state.outcome = outcomeSelect.value as ActivityOutcome | '';
        reset();
      },
    },
    h('option', { value: '' }, 'All outcomes'),
    (Object.keys(OUTCOME_LABEL) as ActivityOutcome[]).map((o) => h('option', { value: o }, OUTCOME_LABEL[o])),
  );

  const turnPage = (delta: number) => {
    state.page += delta;
    void load();
  };
  const reset = () => {
    state.cursors = [null];
    state.page = 0;
    void load();
  };

  async function load(): Promise<void> {
    const seq = ++state.seq;
    const filter: ActivityFilter = {
      ...(state.apiKeyId ? { apiKeyId: state.apiKeyId } : {}),
      ...(state.outcome ? { outcome: state.outcome } : {}),
    };
    try {
      const activity = await ctx.client.activity({
        environmentId: ctx.environment.id,
        filter,
        first: PAGE_SIZE,
        after: state.cursors[state.page] ?? null,
      });
      if (seq !== state.seq) return;
      state.cursors[state.page + 1] = activity.pageInfo.endCursor;
      tbody.dataset.loadedKey = state.apiKeyId;
      tbody.dataset.loadedOutcome = state.outcome;
      mount(
        tbody,
        activity.edges.length === 0
          ? h('tr', {}, h('td', { colspan: 6, class: 'empty', testid: 'activity-empty' }, 'No calls match these filters.'))
          : activity.edges.map(({ node }) =>
              h(
                'tr',
                { testid: 'activity-row', 'data-outcome': node.outcome, 'data-key-id': node.apiKey?.id ?? '' },
                h('td', {}, formatDate(node.timestamp, { seconds: true })),
                h('td', { testid: 'activity-action' }, node.action, ' ', h('code', { class: 'muted' }, node.field)),
                h(
                  'td',
                  {},
                  h(
                    'span',
                    { class: `outcome outcome-${node.outcome.toLowerCase()}`, testid: 'activity-outcome' },
                    OUTCOME_LABEL[node.outcome],
                  ),
                  node.errorCode ? h('code', { class: 'error-code' }, node.errorCode) : null,
                ),
                h(
                  'td',
                  { testid: 'activity-key' },
                  node.apiKey
                    ? `${node.apiKey.name} (${KEY_TYPE_LABEL[node.apiKey.type]})`
                    : h('span', { class: 'muted' }, 'Session'),
                ),
                h('td', { testid: 'activity-actor' }, node.actor.displayName),
                h('td', {}, h('code', { class: 'request-id' }, node.requestId)),
              ),
            ),
      );
      const from = activity.edges.length ? state.page * PAGE_SIZE + 1 : 0;
      mount(
        pager,
        h('span', {}, `${from}–${state.page * PAGE_SIZE + activity.edges.length} of ${activity.totalCount}`),
        h('button', { class: 'button small', disabled: state.page === 0, onclick: () => turnPage(-1) }, 'Newer'),
        h('button', { class: 'button small', disabled: !activity.pageInfo.hasNextPage, onclick: () => turnPage(1) }, 'Older'),
      );
    } catch (error) {
      if (seq === state.seq) ctx.showError(error);
    }
  }

  // The key filter lists every key of the environment, expired ones too (their calls stay in the log).
  ctx.client.apiKeys({ environmentId: ctx.environment.id, first: 100 }).then(
    (keys) =>
      keySelect.append(...keys.edges.map(({ node }) => h('option', { value: node.id }, `${node.name} · ${node.maskedKey}`))),
    (error) => ctx.showError(error),
  );
  void load();

  return h(
    'div',
    { class: 'activity-view', testid: 'activity-view' },
    h('h1', {}, 'Activity'),
    h('p', { class: 'muted' }, 'Every API call in this environment, newest first, with the key that made it.'),
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'toolbar' },
        h('label', { class: 'filter' }, 'Key', keySelect),
        h('label', { class: 'filter' }, 'Outcome', outcomeSelect),
        h('span', { class: 'spacer' }),
        h('button', { class: 'button', testid: 'activity-refresh', onclick: () => load() }, 'Refresh'),
      ),
      h(
        'table',
        { class: 'table', testid: 'activity-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Time'),
            h('th', {}, 'Action'),
            h('th', {}, 'Outcome'),
            h('th', {}, 'Key used'),
            h('th', {}, 'Actor'),
            h('th', {}, 'Request id'),
          ),
        ),
        tbody,
      ),
      pager,
    ),
  );
}
