/// <reference lib="dom" />
import type { ConsoleContext } from './console-context.js';
import { copyButton, openDialog } from './dialogs.js';
import { h, mount } from './dom.js';
import { errorBox } from './error-messages.js';

/** The environment's publishable key with client-side security and, for owners, the signing secret. */
export function renderPublishablePanel(ctx: ConsoleContext, panel: HTMLElement): void {
  mount(panel, h('h2', {}, 'Publishable key'), h('p', { class: 'muted' }, 'Loading…'));
  Promise.all([
    ctx.client.apiKeys({
      environmentId: ctx.environment.id,
      filter: { categories: ['DEFAULT'], statuses: ['ACTIVE', 'EXPIRING_SOON'] },
      first: 100,
    }),
    ctx.isOwner ? ctx.client.signingSecret({ id: ctx.environment.id }) : Promise.resolve(null),
  ]).then(
    ([keys, settings]) => {
      const publishable = keys.edges.map((e) => e.node).filter((k) => k.type === 'PUBLISHABLE');
      const enforced = (settings?.clientSideSecurity ?? ctx.environment.clientSideSecurity) === 'ENFORCED';
      mount(
        panel,
        h('h2', {}, 'Publishable key'),
        h(
          'p',
          { class: 'muted' },
          'Safe in browsers: it reads one customer at a time. With client-side security, each read also needs a customer token your backend signs with the signing secret.',
        ),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Key'),
          h(
            'dd',
            {},
            publishable.length
              ? publishable.map((k) => h('code', { class: 'masked', testid: 'publishable-key' }, k.maskedKey))
              : 'None',
          ),
          h('dt', {}, 'Client-side security'),
          h('dd', {}, securityToggle(ctx, enforced)),
          settings ? [h('dt', {}, 'Signing secret'), h('dd', {}, signingSecret(ctx, settings.signingSecret ?? '', panel))] : null,
        ),
      );
    },
    (error) => mount(panel, h('h2', {}, 'Publishable key'), errorBox(error)),
  );
}

function securityToggle(ctx: ConsoleContext, enforced: boolean): HTMLElement {
  const label = h('span', { testid: 'client-side-security-state' }, enforced ? 'Enforced' : 'Not enforced');
  if (!ctx.isOwner) return label;
  const errorArea = h('div');
  const toggle = h('input', {
    type: 'checkbox',
    role: 'switch',
    checked: enforced,
    testid: 'client-side-security-toggle',
    'aria-label': 'Require customer tokens',
    onchange: async () => {
      toggle.disabled = true;
      mount(errorArea);
      try {
        const { environment } = await ctx.client.setClientSideSecurity({
          environmentId: ctx.environment.id,
          enforced: toggle.checked,
        });
        label.textContent = environment.clientSideSecurity === 'ENFORCED' ? 'Enforced' : 'Not enforced';
        toggle.checked = environment.clientSideSecurity === 'ENFORCED';
      } catch (error) {
        toggle.checked = !toggle.checked;
        mount(errorArea, errorBox(error));
      } finally {
        toggle.disabled = false;
      }
    },
  });
  return h('span', {}, h('label', { class: 'switch' }, toggle, label), errorArea);
}

function signingSecret(ctx: ConsoleContext, initial: string, panel: HTMLElement): HTMLElement {
  let secret = initial;
  let shown = false;
  const MASK = '••••••••••••••••';
  const value = h('code', { class: 'masked', testid: 'signing-secret' }, MASK);
  const copy = copyButton(
    () => secret,
    () => value,
    'signing-secret-copy',
  );
  copy.hidden = true;
  const toggle = h(
    'button',
    {
      type: 'button',
      class: 'button small',
      testid: 'signing-secret-toggle',
      onclick: () => {
        shown = !shown;
        value.textContent = shown ? secret : MASK;
        toggle.textContent = shown ? 'Hide' : 'Show';
        copy.hidden = !shown;
      },
    },
    'Show',
  );
  const rotate = h(
    'button',
    {
      type: 'button',
      class: 'button small',
      testid: 'rotate-signing-secret',
      onclick: () =>
        openDialog({
          title: 'Rotate the signing secret?',
          testid: 'rotate-signing-secret-dialog',
          body: h(
            'p',
            {},
            'Customer tokens signed with the current secret stop verifying at once. Sign new ones with the new secret.',
          ),
          confirmLabel: 'Rotate signing secret',
          danger: true,
          async onConfirm() {
            const { environment } = await ctx.client.rotateSigningSecret({ environmentId: ctx.environment.id });
            secret = environment.signingSecret ?? '';
            renderPublishablePanel(ctx, panel);
            ctx.notify('Signing secret rotated.');
          },
        }),
    },
    'Rotate…',
  );
  return h('span', { class: 'secret-row' }, value, toggle, copy, rotate);
}
