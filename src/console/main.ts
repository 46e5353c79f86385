/// <reference lib="dom" />
import './console.css';
import { createKeygateClient, KeygateClientError } from '../client/keygate-client.js';
import { renderActivityView } from './activity-view.js';
import type { ConsoleContext, Environment, Permission, Viewer } from './console-context.js';
import { h, mount } from './dom.js';
import { errorBox } from './error-messages.js';
import { renderIntegrationsView } from './integrations-view.js';
import { renderKeysView } from './keys-view.js';
import { PLAN_LABEL, ROLE_LABEL } from './labels.js';
import { renderWebhooksView } from './webhooks-view.js';

const TOKEN_KEY = 'keygate.sessionToken';
const ENVIRONMENT_KEY = 'keygate.environmentId';
const GRAPHQL_URL = '/graphql';

const app = document.getElementById('app')!;

const PAGES = ['keys', 'activity', 'integrations', 'webhooks'] as const;
type Page = (typeof PAGES)[number];
const pageFromHash = (): Page => PAGES.find((page) => location.hash === `#${page}`) ?? 'keys';

function renderSignIn(error?: unknown): void {
  const input = h('textarea', {
    id: 'token',
    testid: 'token-input',
    rows: 4,
    placeholder: 'eyJhbGciOiJIUzI1NiIs…',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const submit = h('button', { type: 'submit', class: 'button primary', testid: 'sign-in' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card sign-in',
      testid: 'sign-in-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        submit.disabled = true;
        void signIn(token);
      },
    },
    h('h1', {}, 'Keygate console'),
    h('p', { class: 'muted' }, 'Sign in with a session token.'),
    error ? errorBox(error) : null,
    h('label', { for: 'token' }, 'Session token'),
    input,
    h(
      'p',
      { class: 'hint' },
      'Use the owner token `npm start` printed, or mint one with ',
      h('code', {}, 'npx keygate token --email you@example.com'),
      '. It is kept in this tab only (session storage).',
    ),
    submit,
  );
  mount(app, h('main', { class: 'sign-in-page' }, form));
  input.focus();
}

async function signIn(token: string): Promise<void> {
  const client = createKeygateClient({ url: GRAPHQL_URL, sessionToken: token });
  try {
    const [viewer, environments, permissions] = await Promise.all([client.viewer(), client.environments(), client.permissions()]);
    if (viewer.kind !== 'USER') throw new Error('That is an API key; the console signs in with a user session token.');
    sessionStorage.setItem(TOKEN_KEY, token);
    renderConsole({ client, viewer, environments, permissions });
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    renderSignIn(error);
  }
}

function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ENVIRONMENT_KEY);
  history.replaceState(null, '', location.pathname);
  renderSignIn();
}

interface SignedIn {
  client: ConsoleContext['client'];
  viewer: Viewer;
  environments: readonly Environment[];
  permissions: readonly Permission[];
}

function renderConsole(session: SignedIn): void {
  const { viewer, environments } = session;
  const banner = h('div', { class: 'banner', testid: 'banner', 'aria-live': 'polite' });
  const content = h('div', { class: 'content' });

  const showError = (error: unknown) => {
    if (error instanceof KeygateClientError && error.has('UNAUTHENTICATED')) {
      sessionStorage.removeItem(TOKEN_KEY);
      renderSignIn(error);
      return;
    }
    mount(
      banner,
      errorBox(error, () => mount(banner)),
    );
  };
  const notify = (message: string) =>
    mount(banner, h('div', { class: 'alert alert-success', role: 'status', testid: 'notice' }, message));

  if (environments.length === 0) {
    mount(
      app,
      h(
        'main',
        { class: 'sign-in-page' },
        h(
          'div',
          { class: 'card' },
          h('h1', {}, 'No environments'),
          h('p', {}, 'Your user belongs to no account yet.'),
          h('button', { class: 'button', onclick: signOut }, 'Sign out'),
        ),
      ),
    );
    return;
  }
  const saved = sessionStorage.getItem(ENVIRONMENT_KEY);
  let environment = environments.find((e) => e.id === saved) ?? environments[0]!;

  const envSelect = h(
    'select',
    {
      testid: 'environment-select',
      'aria-label': 'Environment',
      onchange: () => {
        environment = environments.find((e) => e.id === envSelect.value) ?? environment;
        sessionStorage.setItem(ENVIRONMENT_KEY, environment.id);
        mount(banner);
        show();
      },
    },
    environments.map((e) =>
      h(
        'option',
        { value: e.id, selected: e.id === environment.id },
        environments.some((o) => o.account.id !== e.account.id) ? `${e.account.name} / ${e.name}` : e.name,
      ),
    ),
  );

  const navLink = (page: Page, label: string) =>
    h('a', { href: `#${page}`, class: 'nav-link', testid: `nav-${page}`, 'data-page': page }, label);
  const nav = h(
    'nav',
    { class: 'nav' },
    navLink('keys', 'API keys'),
    navLink('activity', 'Logs → Activity'),
    navLink('integrations', 'Integrations'),
    navLink('webhooks', 'Webhooks'),
  );
  const accountInfo = h('span', { class: 'account-info', testid: 'account-info' });

  const show = () => {
    const role = viewer.memberships.find((m) => m.account.id === environment.account.id)?.role ?? null;
    const context: ConsoleContext = {
      client: session.client,
      viewer,
      environment,
      permissions: session.permissions,
      role,
      isOwner: role === 'OWNER',
      showError,
      notify,
    };
    mount(
      accountInfo,
      h('span', { class: 'badge' }, `${environment.account.name} · ${PLAN_LABEL[environment.account.plan]} plan`),
      role ? h('span', { class: 'badge', testid: 'role' }, ROLE_LABEL[role]) : null,
    );
    const page = pageFromHash();
    for (const link of nav.querySelectorAll<HTMLElement>('.nav-link'))
      link.classList.toggle('active', link.dataset.page === page);
    const views = {
      keys: renderKeysView,
      activity: renderActivityView,
      integrations: renderIntegrationsView,
      webhooks: renderWebhooksView,
    };
    mount(content, views[page](context));
  };

  window.onhashchange = () => {
    mount(banner);
    show();
  };

  mount(
    app,
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '#keys' }, 'Keygate'),
      envSelect,
      nav,
      h('span', { class: 'spacer' }),
      accountInfo,
      h('span', { class: 'user', testid: 'user-email' }, viewer.user?.email ?? ''),
      h('button', { class: 'button ghost', testid: 'sign-out', onclick: signOut }, 'Sign out'),
    ),
    h('main', { class: 'page' }, banner, content),
  );
  show();
}

const stored = sessionStorage.getItem(TOKEN_KEY);
if (stored) void signIn(stored);
else renderSignIn();
