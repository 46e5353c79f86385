import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../src/build.js';
import { createKeygateClient, type KeygateClient, KeygateClientError } from '../../src/client/keygate-client.js';
import { processEnv, rememberingFetch, type ServeProcess, startServeProcess } from '../harness/processes.js';
import { addUser, type Bootstrap, bootstrap, launchConsoleBrowser, signIn as signInAt } from './console-browser.js';

/**
 * The console in a real browser (Debian's Chromium through playwright-core)
 * against a real `keygate serve` on a fresh SQLite database. SQLite only: the
 * page is the same whatever the database.
 */

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-output/console');
const KEY_FORMAT = /^(server|client)-[0-9A-Za-z]{49}$/;

const { env } = await processEnv('console');

let server: ServeProcess;
let browser: BrowserContext;
let scale: Bootstrap;
let free: Bootstrap;
let member: { email: string; token: string };
/** The SCALE owner through the typed client over real HTTP, for setting up keys. */
let owner: KeygateClient;

beforeAll(async () => {
  rmSync(SCREENSHOTS, { recursive: true, force: true });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const launching = launchConsoleBrowser();
  // Always from the current source: a dist/ left by an earlier install may be stale (or missing).
  await buildConsole();
  scale = await bootstrap(env, 'Acme', 'SCALE', 'owner@acme.test');
  free = await bootstrap(env, 'Freebie', 'FREE', 'owner@freebie.test');
  member = await addUser(env, scale.account.id, 'member@acme.test', 'MEMBER');
  server = await startServeProcess(env);
  owner = createKeygateClient({ url: `${server.url}/graphql`, sessionToken: scale.owner.token, fetch: rememberingFetch });
  browser = await launching;
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const development = () => scale.environments.find((e) => e.name === 'Development')!;

/** A fresh tab signed in with a session token, showing the keys of its first environment. */
const signIn = (token: string): Promise<Page> => signInAt(browser, server.url, token);

const row = (page: Page, keyId: string) => page.locator(`[data-testid=key-row][data-key-id="${keyId}"]`);

/** Ids of the rows on show once the table answers the given filters. */
async function rowsFor(page: Page, filters: { status?: string; type?: string }): Promise<string[]> {
  await page.selectOption('[data-testid=filter-status]', filters.status ?? '');
  await page.selectOption('[data-testid=filter-type]', filters.type ?? '');
  await page
    .locator(
      `[data-testid=keys-body][data-loaded-status="${filters.status ?? ''}"][data-loaded-category="${filters.type ?? ''}"]:not([aria-busy])`,
    )
    .waitFor();
  return page.locator('[data-testid=key-row]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.keyId!));
}

async function openDetail(page: Page, keyId: string): Promise<void> {
  await row(page, keyId).locator('[data-testid=key-name]').click();
  await page.locator(`[data-testid=key-detail][data-key-id="${keyId}"] [data-testid=detail-name]`).waitFor();
}

async function auditEvents(page: Page): Promise<{ event: string; actor: string }[]> {
  await page.click('[data-testid=tab-activity]');
  await page.locator('[data-testid=audit-row]').first().waitFor();
  return page.locator('[data-testid=audit-row]').evaluateAll((rows) =>
    rows.map((r) => ({
      event: (r as HTMLElement).dataset.event!,
      actor: r.querySelector('[data-testid=audit-actor]')!.textContent!,
    })),
  );
}

async function scopedKey(name: string, scopes: string[]) {
  return owner.createScopedKey({ environmentId: development().id, name, scopes });
}

async function viewerStatus(secret: string): Promise<number> {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': secret },
    body: JSON.stringify({ query: '{ viewer { kind } }' }),
  });
  return res.status;
}

describe('console', () => {
  it('signs in with a session token (kept in sessionStorage) and lists the keys with type, masked key, status and date', async () => {
    const page = await signIn(scale.owner.token);
    expect(await page.textContent('[data-testid=user-email]')).toBe('owner@acme.test');
    expect(await page.textContent('[data-testid=role]')).toBe('Owner');
    expect(await page.locator('[data-testid=environment-select] option:checked').textContent()).toBe('Development');

    const fullAccess = row(page, development().fullAccessKey.id);
    expect(await fullAccess.locator('[data-testid=key-name]').textContent()).toBe('Full access key');
    expect(await fullAccess.locator('[data-testid=key-type]').textContent()).toBe('Full access');
    const masked = await fullAccess.locator('[data-testid=key-masked]').textContent();
    expect(masked).toMatch(/^server-•+[0-9A-Za-z]{4}$/);
    expect(development().fullAccessKey.secret.endsWith(masked!.slice(-4))).toBe(true);
    expect(await fullAccess.locator('[data-testid=key-status]').textContent()).toBe('Active');
    expect(await fullAccess.locator('[data-testid=key-created]').textContent()).toMatch(/\d{4}/);
    expect(await page.content()).not.toContain(development().fullAccessKey.secret);
    await page.screenshot({ path: path.join(SCREENSHOTS, '01-keys.png') });

    expect(await page.evaluate(() => sessionStorage.getItem('keygate.sessionToken'))).toBe(scale.owner.token);
    await page.reload();
    await row(page, development().fullAccessKey.id).waitFor();
    await page.close();
  });

  it('refuses a token that does not verify and says why (UNAUTHENTICATED)', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/console`);
    await page.fill('[data-testid=token-input]', `${scale.owner.token}x`);
    await page.click('[data-testid=sign-in]');
    const error = page.locator('[data-testid=error][data-code=UNAUTHENTICATED]');
    await error.waitFor();
    expect(await error.textContent()).toContain('Sign in again');
    expect(await page.evaluate(() => sessionStorage.getItem('keygate.sessionToken'))).toBeNull();
    await page.close();
  });

  it('adds a scoped key and shows its secret once', async () => {
    const page = await signIn(scale.owner.token);
    await page.click('[data-testid=add-scoped-key]');
    await page.fill('[data-testid=new-key-name]', 'Reporting');
    await page.fill('[data-testid=new-key-description]', 'Nightly revenue report');
    await page.selectOption('[data-testid=new-key-scope-customers]', 'customers:read');
    await page.selectOption('[data-testid=new-key-scope-subscriptions]', 'subscriptions:write');
    await page.screenshot({ path: path.join(SCREENSHOTS, '02-add-scoped-key.png') });
    await page.click('[data-testid=add-key-dialog] [data-testid=dialog-confirm]');

    const secret = (await page.locator('[data-testid=secret-once-value]').textContent())!;
    expect(secret).toMatch(KEY_FORMAT);
    expect(await page.isVisible('[data-testid=secret-once-copy]')).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, '03-secret-once.png') });
    await page.click('[data-testid=secret-once-done]');
    await page.locator('[data-testid=secret-once]').waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);

    // The new key is in the list and holds exactly what was chosen (write implies read).
    const keyId = (await page.getAttribute('[data-testid=key-detail]', 'data-key-id'))!;
    expect(await row(page, keyId).locator('[data-testid=key-type]').textContent()).toBe('Scoped');
    const asKey = createKeygateClient({ url: `${server.url}/graphql`, apiKey: secret });
    expect((await asKey.viewer()).permissions).toEqual(['customers:read', 'subscriptions:read', 'subscriptions:write']);
    await page.close();
  });

  it('rotates a key with "In 1 hour": the old row shows Expiring soon and the status filter tells old from new', async () => {
    const target = await scopedKey('Rotation target', ['coupons:read']);
    const page = await signIn(scale.owner.token);
    await row(page, target.apiKey.id).locator('[data-testid=row-menu]').click();
    await row(page, target.apiKey.id).locator('[data-testid=menu-rotate]').click();
    const labels = await page.locator('[data-testid=rotate-dialog] .choice').allTextContents();
    expect(labels).toEqual(['Now', 'In 1 hour', 'In 24 hours', 'In 3 days', 'In 7 days']);
    await page.check('[data-testid=grace-ONE_HOUR]');
    await page.click('[data-testid=rotate-dialog] [data-testid=dialog-confirm]');
    const newSecret = (await page.locator('[data-testid=secret-once-value]').textContent())!;
    expect(newSecret).toMatch(KEY_FORMAT);
    await page.click('[data-testid=secret-once-done]');

    const newKeyId = (await owner.apiKey({ id: target.apiKey.id }))!.rotatedTo!.id;
    const oldStatus = row(page, target.apiKey.id).locator('[data-testid=key-status]');
    await row(page, target.apiKey.id).locator('[data-testid=key-status][data-status=EXPIRING_SOON]').waitFor();
    expect(await oldStatus.textContent()).toBe('Expiring soon');
    expect(await row(page, newKeyId).locator('[data-testid=key-status]').textContent()).toBe('Active');
    // Both keys work during the grace period.
    expect(await viewerStatus(target.secret)).toBe(200);
    expect(await viewerStatus(newSecret)).toBe(200);

    const expiringSoon = await rowsFor(page, { status: 'EXPIRING_SOON' });
    expect(expiringSoon).toEqual([target.apiKey.id]);
    await page.screenshot({ path: path.join(SCREENSHOTS, '04-rotated-expires-soon-filter.png') });
    const active = await rowsFor(page, { status: 'ACTIVE' });
    expect(active).toContain(newKeyId);
    expect(active).not.toContain(target.apiKey.id);
    expect(await rowsFor(page, { status: 'EXPIRED' })).not.toContain(target.apiKey.id);
    const scopedActive = await rowsFor(page, { status: 'ACTIVE', type: 'SCOPED' });
    expect(scopedActive).toContain(newKeyId);
    expect(scopedActive).not.toContain(development().fullAccessKey.id);

    // The old key's detail shows when it stops working and offers a grace change instead of a rotation.
    await rowsFor(page, {});
    await openDetail(page, target.apiKey.id);
    expect(await page.textContent('[data-testid=detail-expires]')).toMatch(/in (59|60) minutes|in 1 hour/);
    expect(await page.locator('[data-testid=detail-grace]').count()).toBe(1);
    expect(await page.locator('[data-testid=detail-rotate]').count()).toBe(0);
    await page.close();
  });

  it('reveals and hides a secret as owner, and the reveal lands in the key audit log', async () => {
    const key = await scopedKey('Reveal me', ['customers:read']);
    const page = await signIn(scale.owner.token);
    await openDetail(page, key.apiKey.id);
    expect(await page.textContent('[data-testid=detail-masked-key]')).toBe(key.apiKey.maskedKey);

    await page.click('[data-testid=reveal-toggle]');
    await page.locator('[data-testid=detail-secret]').waitFor();
    expect(await page.textContent('[data-testid=detail-secret]')).toBe(key.secret);
    expect(await page.textContent('[data-testid=reveal-toggle]')).toBe('Hide');
    await page.screenshot({ path: path.join(SCREENSHOTS, '05-revealed.png') });

    await page.click('[data-testid=reveal-toggle]');
    expect(await page.textContent('[data-testid=detail-masked-key]')).toBe(key.apiKey.maskedKey);
    expect(await page.content()).not.toContain(key.secret);

    const events = await auditEvents(page);
    expect(events).toEqual([
      { event: 'KEY_REVEALED', actor: 'owner@acme.test' },
      { event: 'KEY_CREATED', actor: 'owner@acme.test' },
    ]);
    await page.screenshot({ path: path.join(SCREENSHOTS, '06-audit-log.png') });
    await page.close();
  });

  it('offers the reveal to no one else: a member sees masked keys without Show or key actions, and the server agrees', async () => {
    const key = await scopedKey('Members look here', ['customers:read']);
    const page = await signIn(member.token);
    expect(await page.textContent('[data-testid=role]')).toBe('Member');
    await openDetail(page, key.apiKey.id);
    expect(await page.textContent('[data-testid=detail-masked-key]')).toBe(key.apiKey.maskedKey);
    expect(await page.locator('[data-testid=reveal-toggle]').count()).toBe(0);
    for (const action of ['detail-rotate', 'detail-revoke', 'edit-key', 'add-scoped-key', 'signing-secret-toggle']) {
      expect(await page.locator(`[data-testid=${action}]`).count(), action).toBe(0);
    }
    await row(page, key.apiKey.id).locator('[data-testid=row-menu]').click();
    expect(await row(page, key.apiKey.id).locator('[data-testid=row-menu-items] [role=menuitem]').allTextContents()).toEqual([
      'View details',
    ]);
    await page.click('[data-testid=tab-permissions]');
    expect(await page.locator('[data-testid=permissions] input[type=checkbox]:not([disabled])').count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, '07-member.png') });

    const asMember = createKeygateClient({ url: `${server.url}/graphql`, sessionToken: member.token });
    const denied = await asMember.revealApiKey(key.apiKey.id).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(KeygateClientError);
    expect((denied as KeygateClientError).code).toBe('FORBIDDEN');
    await page.close();
  });

  it('revokes a scoped key only after confirmation, and the audit log records who did it', async () => {
    const key = await scopedKey('Revoke me', ['coupons:read']);
    const page = await signIn(scale.owner.token);

    const fullAccessRow = row(page, development().fullAccessKey.id);
    await fullAccessRow.locator('[data-testid=row-menu]').click();
    expect(await fullAccessRow.locator('[data-testid=row-menu-items] [role=menuitem]').allTextContents()).toEqual([
      'View details',
      'Rotate key…',
    ]);

    await row(page, key.apiKey.id).locator('[data-testid=row-menu]').click();
    await row(page, key.apiKey.id).locator('[data-testid=menu-revoke]').click();
    await page.click('[data-testid=revoke-dialog] [data-testid=dialog-cancel]');
    expect(await row(page, key.apiKey.id).locator('[data-testid=key-status]').textContent()).toBe('Active');
    expect(await viewerStatus(key.secret)).toBe(200);

    await openDetail(page, key.apiKey.id);
    await page.click('[data-testid=detail-revoke]');
    await page.screenshot({ path: path.join(SCREENSHOTS, '08-revoke-confirmation.png') });
    await page.click('[data-testid=revoke-dialog] [data-testid=dialog-confirm]');
    await row(page, key.apiKey.id).locator('[data-testid=key-status][data-status=EXPIRED]').waitFor();
    expect(await row(page, key.apiKey.id).locator('[data-testid=key-status]').textContent()).toBe('Expired');
    expect(await viewerStatus(key.secret)).toBe(401);

    await page
      .locator(`[data-testid=key-detail][data-key-id="${key.apiKey.id}"] [data-testid=detail-status][data-status=EXPIRED]`)
      .waitFor();
    const events = await auditEvents(page);
    expect(events[0]).toEqual({ event: 'KEY_REVOKED', actor: 'owner@acme.test' });
    await page.close();
  });

  it('shows the environment activity with the key used per call, filtered by key and by outcome', async () => {
    const key = await scopedKey('Activity reader', ['customers:read']);
    const asKey = createKeygateClient({ url: `${server.url}/graphql`, apiKey: key.secret });
    await asKey.customers();
    const denied = await asKey.createCustomer({ customerId: 'cus_denied' }).catch((e: unknown) => e);
    expect((denied as KeygateClientError).code).toBe('FORBIDDEN');
    // Activity is written off the request path: wait until both calls are stored before looking.
    for (let i = 0; i < 50; i++) {
      const stored = await owner.activity({ environmentId: development().id, filter: { apiKeyId: key.apiKey.id } });
      if (stored.totalCount >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const page = await signIn(scale.owner.token);
    await page.click('[data-testid=nav-activity]');
    await page.locator('[data-testid=activity-view]').waitFor();
    await page.selectOption('[data-testid=activity-filter-key]', key.apiKey.id);
    await page.locator(`[data-testid=activity-body][data-loaded-key="${key.apiKey.id}"][data-loaded-outcome=""]`).waitFor();
    const rows = page.locator('[data-testid=activity-row]');
    expect(await rows.evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.keyId))).toEqual([
      key.apiKey.id,
      key.apiKey.id,
    ]);
    expect(await rows.locator('[data-testid=activity-key]').allTextContents()).toEqual([
      'Activity reader (Scoped)',
      'Activity reader (Scoped)',
    ]);
    expect(await rows.evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.outcome))).toEqual(['DENIED', 'SUCCESS']);

    await page.selectOption('[data-testid=activity-filter-outcome]', 'DENIED');
    await page.locator(`[data-testid=activity-body][data-loaded-key="${key.apiKey.id}"][data-loaded-outcome=DENIED]`).waitFor();
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('[data-testid=activity-action]').textContent()).toContain('Create customer');
    expect(await rows.first().textContent()).toContain('FORBIDDEN');
    await page.screenshot({ path: path.join(SCREENSHOTS, '09-activity.png') });
    await page.close();
  });

  it('changes the grace period of an expiring key, and the audit log records it', async () => {
    const key = await scopedKey('Grace target', ['coupons:read']);
    const rotated = await owner.rotateApiKey({ id: key.apiKey.id, expireOldKeyIn: 'ONE_HOUR' });
    const page = await signIn(scale.owner.token);
    await row(page, key.apiKey.id).locator('[data-testid=row-menu]').click();
    await row(page, key.apiKey.id).locator('[data-testid=menu-grace]').click();
    await page.check('[data-testid=grace-dialog] [data-testid=grace-SEVEN_DAYS]');
    await page.click('[data-testid=grace-dialog] [data-testid=dialog-confirm]');
    await page.locator('[data-testid=notice]', { hasText: 'Grace period' }).waitFor();

    const expiresAt = new Date((await owner.apiKey({ id: key.apiKey.id }))!.expiresAt!).getTime();
    const oneHourLater = new Date(rotated.previousKey.expiresAt!).getTime();
    expect(expiresAt - oneHourLater).toBeGreaterThan(6 * 24 * 3600 * 1000);
    expect(await page.textContent('[data-testid=detail-expires]')).toContain('in 7 days');
    expect((await auditEvents(page))[0]).toEqual({ event: 'GRACE_PERIOD_CHANGED', actor: 'owner@acme.test' });
    await page.close();
  });

  it('edits a scoped key (name, then permissions where write implies read) while default keys stay read-only', async () => {
    const key = await scopedKey('Before rename', ['customers:read']);
    const page = await signIn(scale.owner.token);
    await openDetail(page, key.apiKey.id);
    await page.click('[data-testid=edit-key]');
    await page.fill('[data-testid=edit-name]', 'After rename');
    await page.click('[data-testid=edit-save]');
    await page.locator('[data-testid=detail-name]', { hasText: 'After rename' }).waitFor();
    expect(await row(page, key.apiKey.id).locator('[data-testid=key-name]').textContent()).toBe('After rename');

    await page.click('[data-testid=tab-permissions]');
    await page.check('[data-testid="scope-coupons:write"]');
    expect(await page.isChecked('[data-testid="scope-coupons:read"]')).toBe(true);
    await page.uncheck('[data-testid="scope-customers:read"]');
    await page.click('[data-testid=save-scopes]');
    await page.locator('[data-testid=notice]', { hasText: 'Permissions saved' }).waitFor();
    expect((await owner.apiKey({ id: key.apiKey.id }))!.scopes).toEqual(['coupons:read', 'coupons:write']);

    await openDetail(page, development().fullAccessKey.id);
    await page.click('[data-testid=tab-permissions]');
    expect(await page.textContent('[data-testid=permissions-read-only]')).toContain('every permission');
    expect(await page.locator('[data-testid=permissions] input[type=checkbox]:not([disabled])').count()).toBe(0);
    expect(await page.locator('[data-testid=save-scopes]').count()).toBe(0);
    await page.close();
  });

  it('lets an owner switch client-side security and read the signing secret in the publishable key panel', async () => {
    const page = await signIn(scale.owner.token);
    const toggle = page.locator('[data-testid=client-side-security-toggle]');
    expect(await toggle.isChecked()).toBe(false);
    await toggle.check();
    await page.locator('[data-testid=client-side-security-state]', { hasText: /^Enforced$/ }).waitFor();
    const settings = await owner.signingSecret({ id: development().id });
    expect(settings?.clientSideSecurity).toBe('ENFORCED');

    await page.click('[data-testid=signing-secret-toggle]');
    expect(await page.textContent('[data-testid=signing-secret]')).toBe(settings?.signingSecret);
    await page.screenshot({ path: path.join(SCREENSHOTS, '11-publishable-key-panel.png') });
    await page.click('[data-testid=signing-secret-toggle]');
    expect(await page.content()).not.toContain(settings!.signingSecret!);

    await toggle.uncheck();
    await page.locator('[data-testid=client-side-security-state]', { hasText: 'Not enforced' }).waitFor();
    expect((await owner.signingSecret({ id: development().id }))?.clientSideSecurity).toBe('NOT_ENFORCED');
    await page.close();
  });

  it('switches to another environment and pages through its keys with Next and Previous (20 a page)', async () => {
    // Production holds only this test's keys: 2 default keys and 21 scoped ones.
    const production = scale.environments.find((e) => e.name === 'Production')!;
    for (let i = 0; i < 21; i++)
      await owner.createScopedKey({ environmentId: production.id, name: `Paging ${i}`, scopes: ['coupons:read'] });
    const page = await signIn(scale.owner.token);
    await page.selectOption('[data-testid=environment-select]', production.id);
    await row(page, production.fullAccessKey.id).waitFor();
    const ids = () =>
      page.locator('[data-testid=key-row]').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.keyId!));
    await page.locator('[data-testid=pager-summary]', { hasText: '1–20 of 23' }).waitFor();
    const firstPage = await ids();
    expect(firstPage).toHaveLength(20);
    expect(firstPage).not.toContain(development().fullAccessKey.id);

    await page.click('[data-testid=page-next]');
    await page.locator('[data-testid=pager-summary]', { hasText: '21–23 of 23' }).waitFor();
    const secondPage = await ids();
    expect(secondPage).toHaveLength(3);
    expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);
    expect(await page.isDisabled('[data-testid=page-next]')).toBe(true);

    await page.click('[data-testid=page-previous]');
    await page.locator('[data-testid=pager-summary]', { hasText: '1–20 of 23' }).waitFor();
    expect(await ids()).toEqual(firstPage);
    await page.close();
  });

  it('shows PLAN_UPGRADE_REQUIRED clearly when an owner on the FREE plan adds a scoped key', async () => {
    const page = await signIn(free.owner.token);
    const before = await page.locator('[data-testid=key-row]').count();
    await page.click('[data-testid=add-scoped-key]');
    await page.fill('[data-testid=new-key-name]', 'Not on this plan');
    await page.selectOption('[data-testid=new-key-scope-customers]', 'customers:read');
    await page.click('[data-testid=add-key-dialog] [data-testid=dialog-confirm]');
    const error = page.locator('[data-testid=add-key-dialog] [data-testid=error][data-code=PLAN_UPGRADE_REQUIRED]');
    await error.waitFor();
    expect(await error.textContent()).toContain('Scale plan');
    expect(await page.isVisible('[data-testid=add-key-dialog]')).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, '10-plan-upgrade-required.png') });
    await page.click('[data-testid=add-key-dialog] [data-testid=dialog-cancel]');
    expect(await page.locator('[data-testid=key-row]').count()).toBe(before);
    await page.close();
  });

  it('connects an integration (its key shown once, with its fixed permissions) and disconnects it (the key stops at once); members are told only owners manage them', async () => {
    const page = await signIn(free.owner.token);
    await page.click('[data-testid=nav-integrations]');
    const card = (type: string) => page.locator(`[data-testid=integration][data-type=${type}]`);
    await card('HUBSPOT').waitFor();
    expect(
      await page.locator('[data-testid=integration]').evaluateAll((cs) => cs.map((c) => (c as HTMLElement).dataset.type)),
    ).toEqual(['SALESFORCE', 'HUBSPOT', 'ZAPIER']);
    expect(await page.locator('[data-testid=integration][data-connected=true]').count()).toBe(0);

    await card('HUBSPOT').locator('[data-testid=connect]').click();
    const secret = (await page.locator('[data-testid=secret-once] [data-testid=secret-once-value]').textContent())!;
    expect(secret).toMatch(KEY_FORMAT);
    await page.click('[data-testid=secret-once-done]');
    await page.locator('[data-testid=integration][data-type=HUBSPOT][data-connected=true]').waitFor();
    expect(await card('HUBSPOT').locator('[data-testid=integration-key]').textContent()).toMatch(
      new RegExp(`${secret.slice(-4)}$`),
    );
    expect(await card('HUBSPOT').locator('[data-testid=key-status]').getAttribute('data-status')).toBe('ACTIVE');
    const freeOwner = createKeygateClient({ url: `${server.url}/graphql`, sessionToken: free.owner.token });
    const [stored] = await freeOwner.integrations({ environmentId: free.environments[0]!.id });
    expect(await card('HUBSPOT').locator('[data-testid=integration-scopes] li').allTextContents()).toEqual(
      stored!.apiKey!.scopes,
    );
    expect(await viewerStatus(secret)).toBe(200);
    await page.screenshot({ path: path.join(SCREENSHOTS, '11-integrations.png') });

    await card('HUBSPOT').locator('[data-testid=disconnect]').click();
    await page.click('[data-testid=disconnect-dialog] [data-testid=dialog-confirm]');
    await page.locator('[data-testid=notice]', { hasText: 'HubSpot disconnected' }).waitFor();
    await page.locator('[data-testid=integration][data-type=HUBSPOT][data-connected=false]').waitFor();
    expect(await viewerStatus(secret)).toBe(401);
    expect(await freeOwner.integrations({ environmentId: free.environments[0]!.id })).toEqual([]);
    await page.close();

    const memberPage = await signIn(member.token);
    await memberPage.click('[data-testid=nav-integrations]');
    await memberPage.locator('[data-testid=integrations-owners-only]').waitFor();
    expect(await memberPage.locator('[data-testid=integration]').count()).toBe(0);
    await memberPage.close();
  });

  it('pages a long key audit log: the latest 50 events first, then older ones on request, newest first throughout', async () => {
    const key = await scopedKey('Much revealed', ['coupons:read']);
    for (let i = 0; i < 54; i++) await owner.revealApiKey(key.apiKey.id);
    const page = await signIn(scale.owner.token);
    await openDetail(page, key.apiKey.id);
    await auditEvents(page);
    const rows = page.locator('[data-testid=audit-row]');
    expect(await rows.count()).toBe(50);
    expect(await page.textContent('[data-testid=audit-summary]')).toBe('50 of 55 events');
    await page.click('[data-testid=audit-older]');
    await page.locator('[data-testid=audit-summary]', { hasText: '55 of 55 events' }).waitFor();
    const events = await rows.evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.event));
    expect(events).toEqual([...Array(54).fill('KEY_REVEALED'), 'KEY_CREATED']);
    expect(await page.locator('[data-testid=audit-older]').count()).toBe(0);
    await page.close();
  });
});
