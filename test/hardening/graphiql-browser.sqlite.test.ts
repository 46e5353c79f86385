import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * GraphiQL in a real browser (Debian's Chromium through playwright-core)
 * over a real socket: it renders under its content security policy from
 * Keygate's own assets, sends nothing until a credential is in the Headers
 * tab, then runs its example query. SQLite only: the page is the same
 * whatever the database.
 */
const CHROMIUM = '/usr/bin/chromium';

let t: TestKeygate;
let tenant: Tenant;
let browser: BrowserContext;
let origin = '';

beforeAll(async () => {
  t = await startTestKeygate();
  tenant = await seedTenant(t);
  const server = createServer(t.keygate.yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), 'keygate-graphiql-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-sync'],
  });
});
afterAll(() => browser?.close());

describe('GraphiQL in a browser', () => {
  it('renders under its CSP from same-origin assets, sends nothing without a key, then runs the example query', async () => {
    const page = await browser.newPage();
    // Registered before any page script runs (init scripts are not subject to the page's CSP).
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    const requests: { url: string; method: string; headers: Record<string, string> }[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('data:')) requests.push({ url: r.url(), method: r.method(), headers: r.headers() });
    });
    const encodings: (string | undefined)[] = [];
    const graphqlAnswers: { status: number; type: string | undefined }[] = [];
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/graphiql/')) encodings.push(r.headers()['content-encoding']);
      if (url.pathname === '/graphql' && r.request().method() === 'POST') {
        graphqlAnswers.push({ status: r.status(), type: r.headers()['content-type'] });
      }
    });

    await page.goto(`${origin}/graphql`);
    await page.locator('.graphiql-container').first().waitFor();
    const editor = page.locator('.graphiql-query-editor').first();
    await expect.poll(() => editor.textContent()).toContain('WhoAmI');
    // GraphiQL asks for the schema at once; without a credential that is answered in the page.
    // Monaco renders spaces as no-break spaces.
    const response = async () => ((await page.locator('.result-window').first().textContent()) ?? '').replace(/\s+/g, ' ');
    await expect.poll(response).toContain('Not sent');

    expect(
      requests.every((r) => r.url.startsWith(`${origin}/`)),
      'only same-origin requests',
    ).toBe(true);
    expect(requests.filter((r) => r.method === 'POST')).toEqual([]);
    // Monaco loads some of its assets lazily: wait for them rather than racing them.
    await expect.poll(() => encodings.length).toBeGreaterThanOrEqual(5);
    for (const encoding of encodings) expect(['br', 'gzip']).toContain(encoding);

    await page.locator('.graphiql-editor-tool .monaco-editor').last().click();
    await page.keyboard.insertText(JSON.stringify({ 'X-API-Key': tenant.dev.fullAccessKey.secret }));
    await page.locator('.graphiql-execute-button').click();
    await expect.poll(response).toContain('Full access key');
    expect(await response()).toContain('"kind": "API_KEY"');

    const posts = requests.filter((r) => r.method === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(1);
    for (const post of posts) expect(post.headers['x-api-key']).toBe(tenant.dev.fullAccessKey.secret);
    expect(graphqlAnswers.length).toBe(posts.length);
    for (const answer of graphqlAnswers) {
      expect(answer.status).toBe(200);
      expect(answer.type).toMatch(/^application\/graphql-response\+json/);
    }
    // A pasted key is not written to the browser's storage.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(stored).not.toContain(tenant.dev.fullAccessKey.secret);

    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
