/// <reference lib="dom" />
import type { IntegrationsQuery, IntegrationType } from '../client/generated/graphql.js';
import type { ConsoleContext } from './console-context.js';
import { openDialog, showSecretOnce } from './dialogs.js';
import { h, mount } from './dom.js';
import { statusBadge } from './key-detail.js';
import { formatDate, INTEGRATION_LABEL } from './labels.js';

type Integration = IntegrationsQuery['integrations'][number];

const TYPES = Object.keys(INTEGRATION_LABEL) as IntegrationType[];

/**
 * Integrations of the environment (SPEC §6), one card per type: connect
 * (the new key's secret is shown once), the key it holds with its fixed
 * permissions, and disconnect (the key stops working at once). Owners only,
 * as the server enforces; everyone else is told so.
 */
export function renderIntegrationsView(ctx: ConsoleContext): HTMLElement {
  const list = h('div', { class: 'integrations', testid: 'integrations-list' });

  async function load(): Promise<void> {
    if (!ctx.isOwner) {
      mount(
        list,
        h('p', { class: 'card muted', testid: 'integrations-owners-only' }, 'Only account owners manage integrations.'),
      );
      return;
    }
    list.setAttribute('aria-busy', 'true');
    try {
      const integrations = await ctx.client.integrations({ environmentId: ctx.environment.id });
      const byType = new Map(integrations.map((i) => [i.type, i]));
      mount(
        list,
        TYPES.map((type) => card(type, byType.get(type) ?? null)),
      );
    } catch (error) {
      ctx.showError(error);
    } finally {
      list.removeAttribute('aria-busy');
    }
  }

  async function connect(type: IntegrationType, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const { secret, integration } = await ctx.client.connectIntegration({ environmentId: ctx.environment.id, type });
      await load();
      showSecretOnce(
        `${INTEGRATION_LABEL[type]} connected`,
        secret,
        `Give this key to ${INTEGRATION_LABEL[type]}. It holds ${integration.apiKey?.scopes.join(', ') ?? 'its fixed permissions'} and cannot be changed; disconnecting stops it at once.`,
      );
    } catch (error) {
      ctx.showError(error);
      button.disabled = false;
    }
  }

  function disconnect(integration: Integration): void {
    const label = INTEGRATION_LABEL[integration.type];
    openDialog({
      title: `Disconnect ${label}?`,
      testid: 'disconnect-dialog',
      danger: true,
      confirmLabel: 'Disconnect',
      body: h(
        'p',
        {},
        `${label}'s key (${integration.apiKey?.maskedKey ?? 'its key'}) stops working on the very next request. Its audit trail and activity stay.`,
      ),
      async onConfirm() {
        await ctx.client.disconnectIntegration({ id: integration.id });
        ctx.notify(`${label} disconnected.`);
        await load();
      },
    });
  }

  function card(type: IntegrationType, integration: Integration | null): HTMLElement {
    const label = INTEGRATION_LABEL[type];
    if (!integration) {
      const button: HTMLButtonElement = h(
        'button',
        { class: 'button primary', testid: 'connect', onclick: () => void connect(type, button) },
        `Connect ${label}`,
      );
      return h(
        'section',
        { class: 'card integration', testid: 'integration', 'data-type': type, 'data-connected': 'false' },
        h('h2', {}, label),
        h('p', { class: 'muted' }, 'Not connected.'),
        button,
      );
    }
    const key = integration.apiKey;
    return h(
      'section',
      { class: 'card integration', testid: 'integration', 'data-type': type, 'data-connected': 'true' },
      h('h2', {}, label),
      h('p', { testid: 'connected-at' }, `Connected ${formatDate(integration.connectedAt)}`),
      key
        ? h(
            'p',
            { class: 'integration-key' },
            h('code', { class: 'masked', testid: 'integration-key' }, key.maskedKey),
            ' ',
            statusBadge(key.status),
          )
        : null,
      key
        ? h(
            'ul',
            { class: 'scopes', testid: 'integration-scopes' },
            key.scopes.map((scope) => h('li', {}, h('code', {}, scope))),
          )
        : null,
      h('button', { class: 'button danger', testid: 'disconnect', onclick: () => disconnect(integration) }, 'Disconnect…'),
    );
  }

  const view = h(
    'div',
    { class: 'integrations-view', testid: 'integrations-view' },
    h('h1', {}, 'Integrations'),
    h(
      'p',
      { class: 'muted' },
      'Each connected integration gets its own key with a fixed set of permissions. Connect one per type and environment.',
    ),
    list,
  );
  void load();
  return view;
}
