/// <reference lib="dom" />
import type {
  WebhookDeliveriesQuery,
  WebhookDeliveryFieldsFragment,
  WebhookEndpointFieldsFragment,
  WebhookEventType,
} from '../client/generated/graphql.js';
import type { ConsoleContext } from './console-context.js';
import { openDialog, showSecretOnce } from './dialogs.js';
import { h, mount } from './dom.js';
import { errorBox } from './error-messages.js';
import { DELIVERY_STATUS_LABEL, formatDate, formatRelative, WEBHOOK_EVENT_LABEL } from './labels.js';

type Endpoint = WebhookEndpointFieldsFragment;
type Delivery = WebhookDeliveryFieldsFragment;
type DeliveryPage = WebhookDeliveriesQuery['webhookEndpoints'][number]['deliveries'];

const DELIVERY_PAGE_SIZE = 10;

/** What an endpoint can subscribe to: every event type but webhook.test, which only Send test sends. */
const SUBSCRIBABLE = (Object.keys(WEBHOOK_EVENT_LABEL) as WebhookEventType[]).filter((type) => type !== 'WEBHOOK_TEST');

const NO_DELIVERIES: DeliveryPage = { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] };

const SECRET_NOTE =
  'Your receiver verifies each delivery’s webhook-signature header with it (Standard Webhooks, e.g. the standardwebhooks package). It cannot be shown again: rotate it to get a new one.';

/** URL, description and event types of an endpoint, for adding one or editing it. */
function endpointForm(initial?: Endpoint) {
  const url = h('input', {
    id: 'webhook-url',
    testid: 'webhook-url',
    type: 'url',
    required: true,
    maxlength: 2048,
    placeholder: 'https://example.com/webhooks/keygate',
    value: initial?.url ?? '',
  });
  const description = h(
    'textarea',
    { id: 'webhook-description', testid: 'webhook-description', rows: 2, maxlength: 500 },
    initial?.description ?? '',
  );
  const boxes = SUBSCRIBABLE.map((type) =>
    h('input', { type: 'checkbox', value: type, checked: initial?.eventTypes.includes(type), testid: `webhook-event-${type}` }),
  );
  const body = [
    h('label', { for: 'webhook-url' }, 'Endpoint URL'),
    url,
    h('label', { for: 'webhook-description' }, 'Description (optional)'),
    description,
    h(
      'fieldset',
      { class: 'choices', testid: 'webhook-events' },
      h('legend', {}, 'Events'),
      h('p', { class: 'hint' }, 'Tick none to receive every event, including types added later.'),
      boxes.map((box, i) => {
        const { name, description: about } = WEBHOOK_EVENT_LABEL[SUBSCRIBABLE[i]!];
        return h('label', { class: 'choice' }, box, h('code', {}, name), h('span', { class: 'muted' }, about));
      }),
    ),
  ];
  return {
    body,
    values: () => ({
      url: url.value.trim(),
      description: description.value.trim() || null,
      eventTypes: boxes.filter((b) => b.checked).map((b) => b.value as WebhookEventType),
    }),
  };
}

/** When a pending delivery's next attempt is due; nothing for one that is settled. */
function nextAttempt(endpoint: Endpoint, delivery: Delivery): string {
  if (delivery.status !== 'PENDING' || !delivery.nextAttemptAt) return '—';
  if (!endpoint.enabled) return 'When enabled';
  return new Date(delivery.nextAttemptAt).getTime() <= Date.now() ? 'Due now' : formatRelative(delivery.nextAttemptAt);
}

/**
 * Webhooks of the environment (SPEC §10): its endpoints (URL, description,
 * event types, enabled) and each one's latest deliveries with their status,
 * attempts and last response. Every member reads them; owners add endpoints
 * (the signing secret is shown once), edit, enable or disable, send a test,
 * redeliver, rotate the secret (shown once) and delete, as the server allows.
 */
export function renderWebhooksView(ctx: ConsoleContext): HTMLElement {
  const list = h('div', { class: 'webhook-endpoints', testid: 'webhook-endpoints' });
  let loadSeq = 0;

  async function load(): Promise<void> {
    const seq = ++loadSeq;
    list.setAttribute('aria-busy', 'true');
    try {
      const environmentId = ctx.environment.id;
      const [endpoints, withDeliveries] = await Promise.all([
        ctx.client.webhookEndpoints({ environmentId }),
        ctx.client.webhookDeliveries({ environmentId, first: DELIVERY_PAGE_SIZE }),
      ]);
      if (seq !== loadSeq) return;
      const deliveries = new Map(withDeliveries.map((e) => [e.id, e.deliveries]));
      mount(
        list,
        endpoints.length === 0
          ? h(
              'p',
              { class: 'card muted', testid: 'webhooks-empty' },
              ctx.isOwner ? 'No endpoints yet. Add one to hear about key changes.' : 'No endpoints yet.',
            )
          : endpoints.map((endpoint) => endpointCard(endpoint, deliveries.get(endpoint.id) ?? NO_DELIVERIES)),
      );
    } catch (error) {
      if (seq === loadSeq) ctx.showError(error);
    } finally {
      if (seq === loadSeq) list.removeAttribute('aria-busy');
    }
  }

  /** Runs a one-click action (no dialog): the button waits, errors go to the banner. */
  async function act(button: HTMLButtonElement, run: () => Promise<string>): Promise<void> {
    button.disabled = true;
    try {
      const notice = await run();
      await load();
      ctx.notify(notice);
    } catch (error) {
      ctx.showError(error);
      button.disabled = false;
    }
  }

  function addEndpoint(): void {
    const form = endpointForm();
    openDialog({
      title: 'Add webhook endpoint',
      testid: 'add-webhook-dialog',
      body: form.body,
      confirmLabel: 'Add endpoint',
      async onConfirm() {
        const { signingSecret, endpoint } = await ctx.client.createWebhookEndpoint({
          environmentId: ctx.environment.id,
          ...form.values(),
        });
        await load();
        showSecretOnce(`Endpoint added: ${endpoint.url}`, signingSecret, SECRET_NOTE, 'signing secret');
      },
    });
  }

  function editEndpoint(endpoint: Endpoint): void {
    const form = endpointForm(endpoint);
    openDialog({
      title: 'Edit webhook endpoint',
      testid: 'edit-webhook-dialog',
      body: form.body,
      confirmLabel: 'Save',
      async onConfirm() {
        await ctx.client.updateWebhookEndpoint({ id: endpoint.id, ...form.values() });
        await load();
        ctx.notify('Endpoint saved.');
      },
    });
  }

  function rotateSecret(endpoint: Endpoint): void {
    openDialog({
      title: 'Rotate the signing secret?',
      testid: 'rotate-webhook-secret-dialog',
      body: h(
        'p',
        {},
        `Deliveries to ${endpoint.url} are signed with a new secret, and for 24 hours with the current one too, so your receiver can switch without missing one.`,
      ),
      confirmLabel: 'Rotate secret',
      async onConfirm() {
        const { signingSecret } = await ctx.client.rotateWebhookSecret({ id: endpoint.id });
        showSecretOnce('Signing secret rotated', signingSecret, SECRET_NOTE, 'signing secret');
      },
    });
  }

  function deleteEndpoint(endpoint: Endpoint): void {
    openDialog({
      title: 'Delete this endpoint?',
      testid: 'delete-webhook-dialog',
      danger: true,
      confirmLabel: 'Delete endpoint',
      body: h('p', {}, `Nothing more is sent to ${endpoint.url}, and its delivery history is deleted with it.`),
      async onConfirm() {
        await ctx.client.deleteWebhookEndpoint({ id: endpoint.id });
        await load();
        ctx.notify('Endpoint deleted.');
      },
    });
  }

  function deliveryRow(endpoint: Endpoint, delivery: Delivery): HTMLElement {
    const redeliver: HTMLButtonElement | null = ctx.isOwner
      ? h(
          'button',
          {
            type: 'button',
            class: 'button small',
            testid: 'redeliver',
            onclick: () =>
              act(redeliver!, async () => {
                await ctx.client.redeliverWebhook({ deliveryId: delivery.id });
                return `${WEBHOOK_EVENT_LABEL[delivery.eventType].name} queued again (same webhook-id).`;
              }),
          },
          'Redeliver',
        )
      : null;
    return h(
      'tr',
      { testid: 'delivery-row', 'data-delivery-id': delivery.id, 'data-status': delivery.status },
      h(
        'td',
        {},
        h('code', { testid: 'delivery-event' }, WEBHOOK_EVENT_LABEL[delivery.eventType].name),
        h(
          'details',
          { class: 'payload' },
          h('summary', {}, 'Payload'),
          h('pre', { testid: 'delivery-payload' }, JSON.stringify(delivery.payload, null, 2)),
        ),
      ),
      h(
        'td',
        {},
        h(
          'span',
          { class: `status delivery-${delivery.status.toLowerCase()}`, testid: 'delivery-status' },
          DELIVERY_STATUS_LABEL[delivery.status],
        ),
      ),
      h('td', { testid: 'delivery-attempts' }, String(delivery.attempts)),
      h('td', { testid: 'delivery-response' }, delivery.lastResponseStatus === null ? '—' : String(delivery.lastResponseStatus)),
      h(
        'td',
        { testid: 'delivery-last-attempt' },
        delivery.lastAttemptAt ? formatDate(delivery.lastAttemptAt, { seconds: true }) : h('span', { class: 'muted' }, 'Not yet'),
      ),
      h(
        'td',
        {
          testid: 'delivery-next-attempt',
          title: delivery.nextAttemptAt ? formatDate(delivery.nextAttemptAt, { seconds: true }) : '',
        },
        nextAttempt(endpoint, delivery),
      ),
      ctx.isOwner ? h('td', {}, redeliver) : null,
    );
  }

  function deliveriesTable(endpoint: Endpoint, first: DeliveryPage): HTMLElement {
    const tbody = h('tbody', { testid: 'deliveries-body' });
    const footer = h('div', { class: 'pager' });
    let shown = 0;
    const append = (page: DeliveryPage) => {
      tbody.append(...page.edges.map(({ node }) => deliveryRow(endpoint, node)));
      shown += page.edges.length;
      const older: HTMLButtonElement = h(
        'button',
        {
          type: 'button',
          class: 'button small',
          testid: 'deliveries-older',
          onclick: async () => {
            older.disabled = true;
            try {
              // The connection is keyset-paged by id: the cursor picks this endpoint's older deliveries.
              const all = await ctx.client.webhookDeliveries({
                environmentId: ctx.environment.id,
                first: DELIVERY_PAGE_SIZE,
                after: page.pageInfo.endCursor,
              });
              append(all.find((e) => e.id === endpoint.id)?.deliveries ?? NO_DELIVERIES);
            } catch (error) {
              mount(footer, errorBox(error));
            }
          },
        },
        'Show older deliveries',
      );
      mount(
        footer,
        h('span', { testid: 'deliveries-summary' }, `${shown} of ${page.totalCount} deliveries, newest first`),
        page.pageInfo.hasNextPage ? older : null,
      );
    };
    if (first.edges.length === 0) {
      return h(
        'p',
        { class: 'muted', testid: 'deliveries-empty' },
        ctx.isOwner ? 'No deliveries yet. Send a test to see one.' : 'No deliveries yet.',
      );
    }
    append(first);
    return h(
      'div',
      {},
      h(
        'table',
        { class: 'table compact', testid: 'deliveries-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Event'),
            h('th', {}, 'Status'),
            h('th', {}, 'Attempts'),
            h('th', {}, 'Response'),
            h('th', {}, 'Last attempt'),
            h('th', {}, 'Next attempt'),
            ctx.isOwner ? h('th', { 'aria-label': 'Actions' }) : null,
          ),
        ),
        tbody,
      ),
      footer,
    );
  }

  function endpointCard(endpoint: Endpoint, deliveries: DeliveryPage): HTMLElement {
    const button = (testid: string, label: string, onclick: (self: HTMLButtonElement) => void, danger = false) => {
      const self: HTMLButtonElement = h(
        'button',
        { type: 'button', class: danger ? 'button small danger' : 'button small', testid, onclick: () => onclick(self) },
        label,
      );
      return self;
    };
    const actions = ctx.isOwner
      ? h(
          'div',
          { class: 'detail-actions' },
          button('send-test', 'Send test', (self) =>
            act(self, async () => {
              await ctx.client.sendTestWebhook({ id: endpoint.id });
              return `A webhook.test event is queued for ${endpoint.url}.`;
            }),
          ),
          button('toggle-enabled', endpoint.enabled ? 'Disable' : 'Enable', (self) =>
            act(self, async () => {
              const { endpoint: updated } = await ctx.client.updateWebhookEndpoint({
                id: endpoint.id,
                enabled: !endpoint.enabled,
              });
              return updated.enabled ? `${endpoint.url} is enabled.` : `${endpoint.url} is disabled: it gets no events.`;
            }),
          ),
          button('edit-endpoint', 'Edit…', () => editEndpoint(endpoint)),
          button('rotate-secret', 'Rotate secret…', () => rotateSecret(endpoint)),
          button('delete-endpoint', 'Delete…', () => deleteEndpoint(endpoint), true),
        )
      : null;
    return h(
      'section',
      {
        class: 'card webhook-endpoint',
        testid: 'webhook-endpoint',
        'data-endpoint-id': endpoint.id,
        'data-enabled': String(endpoint.enabled),
      },
      h(
        'div',
        { class: 'detail-head' },
        h(
          'div',
          {},
          h('h2', {}, h('code', { testid: 'endpoint-url' }, endpoint.url)),
          endpoint.description ? h('p', { class: 'muted', testid: 'endpoint-description' }, endpoint.description) : null,
        ),
        h(
          'span',
          { class: endpoint.enabled ? 'status status-active' : 'status status-expired', testid: 'endpoint-enabled' },
          endpoint.enabled ? 'Enabled' : 'Disabled',
        ),
      ),
      h(
        'p',
        { class: 'endpoint-events', testid: 'endpoint-events' },
        'Events: ',
        endpoint.eventTypes.length === 0
          ? h('span', { class: 'muted' }, 'all')
          : endpoint.eventTypes.map((type) =>
              h('code', { title: WEBHOOK_EVENT_LABEL[type].description }, WEBHOOK_EVENT_LABEL[type].name),
            ),
      ),
      endpoint.enabled
        ? null
        : h(
            'p',
            { class: 'muted', testid: 'endpoint-disabled-note' },
            'Disabled: no new events are queued for it, and its queued deliveries wait until it is enabled again.',
          ),
      actions,
      deliveriesTable(endpoint, deliveries),
    );
  }

  const view = h(
    'div',
    { class: 'webhooks-view', testid: 'webhooks-view' },
    h('h1', {}, 'Webhooks'),
    h(
      'p',
      { class: 'muted' },
      'Keygate signs each event (Standard Webhooks) and sends it to these endpoints: key changes, and a warning before an expiring key stops working.',
      ctx.isOwner ? null : ' Only account owners add, change, test or delete endpoints.',
    ),
    h(
      'div',
      { class: 'toolbar' },
      h('span', { class: 'spacer' }),
      h('button', { class: 'button', testid: 'webhooks-refresh', onclick: () => load() }, 'Refresh'),
      ctx.isOwner ? h('button', { class: 'button primary', testid: 'add-webhook', onclick: addEndpoint }, 'Add endpoint') : null,
    ),
    list,
  );
  void load();
  return view;
}
