import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../src/build.js';
import { createKeygateClient, type KeygateClient, KeygateClientError } from '../../src/client/keygate-client.js';
import { processEnv, rememberingFetch, type ServeProcess, startServeProcess } from '../harness/processes.js';
import { addUser, type Bootstrap, bootstrap, launchConsoleBrowser, signIn as signInAt } from './console-browser.js';

/**
 * The console's Webhooks page and the expiring-key usage line, in a real
 * browser against a real `keygate serve` (KEYGATE_WEBHOOK_ALLOW_PRIVATE=true,
 * so a receiver on loopback is a valid endpoint), on each dialect.
 *
 * Deliveries the page is to show as PENDING are made to a disabled endpoint:
 * they wait there whether or not a delivery worker runs (sendTestWebhook
 * queues one whatever the endpoint's state), so what the page shows does not
 * race an attempt.
 */

const SCREENSHOTS = path.resolve(import.meta.dirname, `../../test-output/console-webhooks-${process.env.KEYGATE_TEST_DIALECT}`);
const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]{32}$/;

const { env } = await processEnv('console-webhooks', { KEYGATE_WEBHOOK_ALLOW_PRIVATE: 'true' });

let server: ServeProcess;
let receiver: Server;
let receiverUrl: string;
let browser: BrowserContext;
let acme: Bootstrap;
let member: { email: string; token: string };
let readOnly: { email: string; token: string };
/** The owner through the typed client over real HTTP, for setting up and checking what the page did. */
let owner: KeygateClient;

beforeAll(async () => {
  rmSync(SCREENSHOTS, { recursive: true, force: true });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const launching = launchConsoleBrowser();
  await buildConsole();
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  acme = await bootstrap(env, 'Acme', 'SCALE', 'owner@acme.test');
  member = await addUser(env, acme.account.id, 'member@acme.test', 'MEMBER');
  readOnly = await addUser(env, acme.account.id, 'auditor@acme.test', 'READ_ONLY');
  server = await startServeProcess(env);
  owner = createKeygateClient({ url: `${server.url}/graphql`, sessionToken: acme.owner.token, fetch: rememberingFetch });
  browser = await launching;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

const development = () => acme.environments.find((e) => e.name === 'Development')!;
const production = () => acme.environments.find((e) => e.name === 'Production')!;

/** A signed-in tab on the Webhooks page of the given environment (Development unless told), loaded. */
async function webhooksPage(token: string, environmentId = development().id): Promise<Page> {
  const page = await signInAt(browser, server.url, token);
  if (environmentId !== development().id) {
    await page.selectOption('[data-testid=environment-select]', environmentId);
  }
  await page.click('[data-testid=nav-webhooks]');
  await page.locator('[data-testid=webhook-endpoints]:not([aria-busy])').waitFor();
  return page;
}

const card = (page: Page, endpointId: string) => page.locator(`[data-testid=webhook-endpoint][data-endpoint-id="${endpointId}"]`);
const deliveryIds = (page: Page, endpointId: string) =>
  card(page, endpointId)
    .locator('[data-testid=delivery-row]')
    .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.deliveryId!));

async function endpointsOf(environmentId: string) {
  return owner.webhookEndpoints({ environmentId });
}

async function deliveriesOf(environmentId: string, endpointId: string) {
  const endpoints = await owner.webhookDeliveries({ environmentId, first: 100 });
  return endpoints.find((e) => e.id === endpointId)?.deliveries.edges.map((e) => e.node) ?? [];
}

/** An endpoint made over the API, disabled so its deliveries wait (see the file's comment). */
async function disabledEndpoint(environmentId: string, description: string) {
  const { endpoint } = await owner.createWebhookEndpoint({ environmentId, url: receiverUrl, description });
  await owner.updateWebhookEndpoint({ id: endpoint.id, enabled: false });
  return endpoint;
}

describe('console: Webhooks page', () => {
  it('adds an endpoint (URL, description, event types) and shows its signing secret once: not after closing, not after a reload', async () => {
    const page = await webhooksPage(acme.owner.token);
    await page.locator('[data-testid=webhooks-empty]').waitFor();
    await page.click('[data-testid=add-webhook]');
    await page.fill('[data-testid=webhook-url]', receiverUrl);
    await page.fill('[data-testid=webhook-description]', 'Ops alerts');
    await page.check('[data-testid=webhook-event-API_KEY_EXPIRING]');
    await page.check('[data-testid=webhook-event-API_KEY_ROTATED]');
    expect(await page.locator('[data-testid=webhook-events] code').allTextContents()).toEqual([
      'api_key.created',
      'api_key.rotated',
      'api_key.revoked',
      'api_key.scopes_updated',
      'api_key.expiring',
      'api_key.expired',
      'integration.connected',
      'integration.disconnected',
    ]);
    await page.screenshot({ path: path.join(SCREENSHOTS, '01-add-endpoint.png') });
    await page.click('[data-testid=add-webhook-dialog] [data-testid=dialog-confirm]');

    const shown = page.locator('[data-testid=secret-once] [data-testid=secret-once-value]');
    const secret = (await shown.textContent())!;
    expect(secret).toMatch(WEBHOOK_SECRET);
    expect(await page.textContent('[data-testid=secret-once]')).toContain('Copy this signing secret now: it is shown only once.');
    expect(await page.isVisible('[data-testid=secret-once-copy]')).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, '02-signing-secret-once.png') });
    await page.click('[data-testid=secret-once-done]');
    await page.locator('[data-testid=secret-once]').waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);

    const [stored] = await endpointsOf(development().id);
    expect(stored).toMatchObject({
      url: receiverUrl,
      description: 'Ops alerts',
      eventTypes: ['API_KEY_ROTATED', 'API_KEY_EXPIRING'],
      enabled: true,
    });
    const shownCard = card(page, stored!.id);
    expect(await shownCard.locator('[data-testid=endpoint-url]').textContent()).toBe(receiverUrl);
    expect(await shownCard.locator('[data-testid=endpoint-description]').textContent()).toBe('Ops alerts');
    expect(await shownCard.locator('[data-testid=endpoint-events] code').allTextContents()).toEqual([
      'api_key.rotated',
      'api_key.expiring',
    ]);
    expect(await shownCard.locator('[data-testid=endpoint-enabled]').textContent()).toBe('Enabled');

    await page.reload();
    await card(page, stored!.id).waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(await page.content()).not.toContain('whsec_');

    // Editing: every event type (none ticked) and a new description.
    await card(page, stored!.id).locator('[data-testid=edit-endpoint]').click();
    await page.uncheck('[data-testid=edit-webhook-dialog] [data-testid=webhook-event-API_KEY_EXPIRING]');
    await page.uncheck('[data-testid=edit-webhook-dialog] [data-testid=webhook-event-API_KEY_ROTATED]');
    await page.fill('[data-testid=edit-webhook-dialog] [data-testid=webhook-description]', 'Every event');
    await page.click('[data-testid=edit-webhook-dialog] [data-testid=dialog-confirm]');
    await page.locator('[data-testid=notice]', { hasText: 'Endpoint saved' }).waitFor();
    expect(await card(page, stored!.id).locator('[data-testid=endpoint-events]').textContent()).toBe('Events: all');
    expect((await endpointsOf(development().id))[0]).toMatchObject({ description: 'Every event', eventTypes: [] });
    await owner.deleteWebhookEndpoint({ id: stored!.id });
    await page.close();
  });

  it('says what is wrong with a URL Keygate refuses (BAD_USER_INPUT) and keeps the dialog open', async () => {
    const page = await webhooksPage(acme.owner.token);
    await page.click('[data-testid=add-webhook]');
    await page.fill('[data-testid=webhook-url]', 'ftp://127.0.0.1/hooks');
    await page.click('[data-testid=add-webhook-dialog] [data-testid=dialog-confirm]');
    const error = page.locator('[data-testid=add-webhook-dialog] [data-testid=error][data-code=BAD_USER_INPUT]');
    await error.waitFor();
    expect(await error.textContent()).toContain('Please check what you entered.');
    expect(await page.isVisible('[data-testid=add-webhook-dialog]')).toBe(true);
    await page.click('[data-testid=add-webhook-dialog] [data-testid=dialog-cancel]');
    expect(await endpointsOf(development().id)).toEqual([]);
    await page.close();
  });

  it('disables an endpoint, sends a test (a pending webhook.test delivery appears with its fields) and redelivers it (another delivery of the same event)', async () => {
    const { endpoint } = await owner.createWebhookEndpoint({ environmentId: production().id, url: receiverUrl });
    const page = await webhooksPage(acme.owner.token, production().id);
    await card(page, endpoint.id).locator('[data-testid=deliveries-empty]').waitFor();

    await card(page, endpoint.id).locator('[data-testid=toggle-enabled]').click();
    await page.locator(`[data-testid=webhook-endpoint][data-endpoint-id="${endpoint.id}"][data-enabled=false]`).waitFor();
    expect(await card(page, endpoint.id).locator('[data-testid=endpoint-enabled]').textContent()).toBe('Disabled');
    expect(await card(page, endpoint.id).locator('[data-testid=toggle-enabled]').textContent()).toBe('Enable');
    expect(await card(page, endpoint.id).locator('[data-testid=endpoint-disabled-note]').count()).toBe(1);
    expect((await endpointsOf(production().id))[0]!.enabled).toBe(false);

    await card(page, endpoint.id).locator('[data-testid=send-test]').click();
    await page.locator('[data-testid=notice]', { hasText: 'webhook.test event is queued' }).waitFor();
    const row = card(page, endpoint.id).locator('[data-testid=delivery-row]');
    await row.first().waitFor();
    const [test] = await deliveriesOf(production().id, endpoint.id);
    expect(test).toMatchObject({ eventType: 'WEBHOOK_TEST', status: 'PENDING', attempts: 0, lastResponseStatus: null });
    expect(await row.first().getAttribute('data-delivery-id')).toBe(test!.id);
    expect(await row.first().locator('[data-testid=delivery-event]').textContent()).toBe('webhook.test');
    expect(await row.first().locator('[data-testid=delivery-status]').textContent()).toBe('Pending');
    expect(await row.first().locator('[data-testid=delivery-attempts]').textContent()).toBe('0');
    expect(await row.first().locator('[data-testid=delivery-response]').textContent()).toBe('—');
    expect(await row.first().locator('[data-testid=delivery-last-attempt]').textContent()).toBe('Not yet');
    expect(await row.first().locator('[data-testid=delivery-next-attempt]').textContent()).toBe('When enabled');
    await row.first().locator('.payload summary').click();
    const payload = JSON.parse((await row.first().locator('[data-testid=delivery-payload]').textContent())!);
    expect(payload).toEqual(test!.payload);
    expect(payload.type).toBe('webhook.test');
    expect(await card(page, endpoint.id).locator('[data-testid=deliveries-summary]').textContent()).toBe(
      '1 of 1 deliveries, newest first',
    );
    await page.screenshot({ path: path.join(SCREENSHOTS, '03-test-delivery-pending.png') });

    await row.first().locator('[data-testid=redeliver]').click();
    await page.locator('[data-testid=notice]', { hasText: 'webhook.test queued again' }).waitFor();
    await row.nth(1).waitFor();
    const [redelivery, original] = await deliveriesOf(production().id, endpoint.id);
    expect(original!.id).toBe(test!.id);
    expect(redelivery!.eventId).toBe(test!.eventId);
    expect(redelivery!.id).not.toBe(test!.id);
    expect(await deliveryIds(page, endpoint.id)).toEqual([redelivery!.id, test!.id]);
    expect(await row.first().locator('[data-testid=delivery-status]').textContent()).toBe('Pending');

    await card(page, endpoint.id).locator('[data-testid=toggle-enabled]').click();
    await page.locator(`[data-testid=webhook-endpoint][data-endpoint-id="${endpoint.id}"][data-enabled=true]`).waitFor();
    expect((await endpointsOf(production().id))[0]!.enabled).toBe(true);
    await owner.deleteWebhookEndpoint({ id: endpoint.id });
    await page.close();
  });

  it('pages an endpoint’s deliveries: the latest 10, then older ones on request, newest first', async () => {
    const endpoint = await disabledEndpoint(development().id, 'Paged');
    for (let i = 0; i < 12; i++) await owner.sendTestWebhook({ id: endpoint.id });
    const all = (await deliveriesOf(development().id, endpoint.id)).map((d) => d.id);
    expect(all).toHaveLength(12);
    const page = await webhooksPage(acme.owner.token);
    const summary = card(page, endpoint.id).locator('[data-testid=deliveries-summary]');
    expect(await summary.textContent()).toBe('10 of 12 deliveries, newest first');
    expect(await deliveryIds(page, endpoint.id)).toEqual(all.slice(0, 10));
    await card(page, endpoint.id).locator('[data-testid=deliveries-older]').click();
    await page.locator('[data-testid=deliveries-summary]', { hasText: '12 of 12' }).waitFor();
    expect(await deliveryIds(page, endpoint.id)).toEqual(all);
    expect(await card(page, endpoint.id).locator('[data-testid=deliveries-older]').count()).toBe(0);
    await owner.deleteWebhookEndpoint({ id: endpoint.id });
    await page.close();
  });

  it('rotates the signing secret and shows the new one once', async () => {
    const { endpoint, signingSecret: first } = await owner.createWebhookEndpoint({
      environmentId: development().id,
      url: receiverUrl,
    });
    const page = await webhooksPage(acme.owner.token);
    await card(page, endpoint.id).locator('[data-testid=rotate-secret]').click();
    await page.click('[data-testid=rotate-webhook-secret-dialog] [data-testid=dialog-confirm]');
    const rotated = (await page.locator('[data-testid=secret-once-value]').textContent())!;
    expect(rotated).toMatch(WEBHOOK_SECRET);
    expect(rotated).not.toBe(first);
    await page.click('[data-testid=secret-once-done]');
    await page.locator('[data-testid=secret-once]').waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(rotated);
    expect(await page.content()).not.toContain(first);
    await owner.deleteWebhookEndpoint({ id: endpoint.id });
    await page.close();
  });

  it('deletes an endpoint only after confirmation: Cancel keeps it, Delete removes it and its deliveries', async () => {
    const endpoint = await disabledEndpoint(development().id, 'Delete me');
    await owner.sendTestWebhook({ id: endpoint.id });
    const page = await webhooksPage(acme.owner.token);
    await card(page, endpoint.id).locator('[data-testid=delete-endpoint]').click();
    await page.click('[data-testid=delete-webhook-dialog] [data-testid=dialog-cancel]');
    expect((await endpointsOf(development().id)).map((e) => e.id)).toContain(endpoint.id);
    expect(await card(page, endpoint.id).count()).toBe(1);

    await card(page, endpoint.id).locator('[data-testid=delete-endpoint]').click();
    await page.screenshot({ path: path.join(SCREENSHOTS, '04-delete-confirmation.png') });
    await page.click('[data-testid=delete-webhook-dialog] [data-testid=dialog-confirm]');
    await page.locator('[data-testid=notice]', { hasText: 'Endpoint deleted' }).waitFor();
    await card(page, endpoint.id).waitFor({ state: 'detached' });
    expect((await endpointsOf(development().id)).map((e) => e.id)).not.toContain(endpoint.id);
    expect(await deliveriesOf(development().id, endpoint.id)).toEqual([]);
    await page.close();
  });

  it('shows a member and a read-only user the endpoints and deliveries without any write action; the server refuses them (FORBIDDEN)', async () => {
    const endpoint = await disabledEndpoint(development().id, 'Read me');
    await owner.sendTestWebhook({ id: endpoint.id });
    for (const user of [member, readOnly]) {
      const page = await webhooksPage(user.token);
      const shown = card(page, endpoint.id);
      expect(await shown.locator('[data-testid=endpoint-url]').textContent()).toBe(receiverUrl);
      expect(await shown.locator('[data-testid=delivery-row] [data-testid=delivery-event]').allTextContents()).toEqual([
        'webhook.test',
      ]);
      expect(await page.textContent('[data-testid=webhooks-view]')).toContain('Only account owners add, change, test or delete');
      for (const action of [
        'add-webhook',
        'send-test',
        'toggle-enabled',
        'edit-endpoint',
        'rotate-secret',
        'delete-endpoint',
        'redeliver',
      ]) {
        expect(await page.locator(`[data-testid=${action}]`).count(), `${user.email}: ${action}`).toBe(0);
      }
      if (user === readOnly) await page.screenshot({ path: path.join(SCREENSHOTS, '05-read-only.png') });
      await page.close();

      const asUser = createKeygateClient({ url: `${server.url}/graphql`, sessionToken: user.token });
      const denied = await asUser.sendTestWebhook({ id: endpoint.id }).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(KeygateClientError);
      expect((denied as KeygateClientError).code).toBe('FORBIDDEN');
    }
    await owner.deleteWebhookEndpoint({ id: endpoint.id });
  });
});

describe('console: an expiring key’s usage', () => {
  it('says "still in use" for a rotated key used just now, and "not used since rotation" for one never used', async () => {
    const used = await owner.createScopedKey({
      environmentId: development().id,
      name: 'Billing job',
      scopes: ['customers:read'],
    });
    const idle = await owner.createScopedKey({ environmentId: development().id, name: 'Idle job', scopes: ['customers:read'] });
    await owner.rotateApiKey({ id: used.apiKey.id, expireOldKeyIn: 'ONE_DAY' });
    await owner.rotateApiKey({ id: idle.apiKey.id, expireOldKeyIn: 'ONE_DAY' });
    // A service still on the old secret.
    await createKeygateClient({ url: `${server.url}/graphql`, apiKey: used.secret }).customers();
    // lastUsedAt is written off the request path, within about a second.
    for (let i = 0; i < 50 && !(await owner.apiKey({ id: used.apiKey.id }))!.lastUsedAt; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await owner.apiKey({ id: used.apiKey.id }))!.lastUsedAt).not.toBeNull();

    const page = await signInAt(browser, server.url, acme.owner.token);
    const usage = (keyId: string) => page.locator(`[data-testid=key-row][data-key-id="${keyId}"] [data-testid=key-usage]`);
    expect(await usage(used.apiKey.id).getAttribute('data-usage')).toBe('in-use');
    expect(await usage(used.apiKey.id).textContent()).toBe('Still in use: last used less than a minute ago');
    expect(await usage(idle.apiKey.id).getAttribute('data-usage')).toBe('unused');
    expect(await usage(idle.apiKey.id).textContent()).toBe('Not used since rotation');
    // Only keys in a grace period carry the line: their replacements do not.
    const replacement = (await owner.apiKey({ id: used.apiKey.id }))!.rotatedTo!.id;
    expect(await page.locator(`[data-testid=key-row][data-key-id="${replacement}"] [data-testid=key-usage]`).count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, '06-still-in-use.png') });

    await page.locator(`[data-testid=key-row][data-key-id="${used.apiKey.id}"] [data-testid=key-name]`).click();
    const detailUsage = page.locator(
      `[data-testid=key-detail][data-key-id="${used.apiKey.id}"] [data-testid=detail-key-usage][data-usage=in-use]`,
    );
    await detailUsage.waitFor();
    expect(await detailUsage.textContent()).toBe('Still in use: last used less than a minute ago');
    await page.close();
  });
});
