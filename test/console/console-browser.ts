import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { rememberSecretsIn } from '../harness/leak-scan.js';
import { keygateCommand } from '../harness/processes.js';

export { type Bootstrap, bootstrap } from '../harness/processes.js';

/** The console's browser tests drive Debian's Chromium through playwright-core, headless. */
const CHROMIUM = '/usr/bin/chromium';

/** A headless Chromium with a profile of its own. */
export function launchConsoleBrowser(): Promise<BrowserContext> {
  const browserDir = mkdtempSync(path.join(tmpdir(), 'keygate-chromium-'));
  return chromium.launchPersistentContext(browserDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

const lastJsonLine = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);

/** `keygate user add`: another user of an account, with a session token. */
export async function addUser(
  env: NodeJS.ProcessEnv,
  accountId: string,
  email: string,
  role: 'MEMBER' | 'READ_ONLY',
): Promise<{ email: string; token: string }> {
  const { stdout } = await keygateCommand(env, 'user', 'add', '--account', accountId, '--email', email, '--role', role, '--json');
  return lastJsonLine(stdout);
}

/** A fresh tab (so a fresh sessionStorage) of the console at `url`, signed in with a session token, showing the keys page. */
export async function signIn(browser: BrowserContext, url: string, token: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error('console page error:', error));
  // Secrets the page is shown (a revealed or rotated key, a webhook secret) are searched for in the server's logs at the end of the run.
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === '/graphql') response.text().then(rememberSecretsIn, () => {});
  });
  await page.goto(`${url}/console`);
  await page.fill('[data-testid=token-input]', token);
  await page.click('[data-testid=sign-in]');
  await page.locator('[data-testid=key-row]').first().waitFor();
  return page;
}
