import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { GRAPHIQL_DEFAULT_QUERY } from '../../src/plugins/graphiql.js';
import { codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * GraphiQL over HTTP: a small page with a content security policy, and its
 * assets compressed once and cacheable under hashed names (the browser side
 * is graphiql-browser.sqlite.test.ts).
 */
const t: TestKeygate = await startTestKeygate();
let tenant: Tenant;
beforeAll(async () => {
  tenant = await seedTenant(t);
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  Promise.resolve(t.keygate.yoga.fetch(`http://keygate.test${path}`, { method, headers }));

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function page(): Promise<{ res: Response; html: string; assets: string[] }> {
  const res = await get('/graphql', { accept: BROWSER_ACCEPT });
  const html = await res.text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  return { res, html, assets };
}

/** Every asset GraphiQL loads: the page's, and the editor's workers its script names. */
async function allAssets(): Promise<string[]> {
  const { assets } = await page();
  const script = await (await get(assets.find((a) => a.endsWith('.js'))!)).text();
  const workers = JSON.parse(/var workers = (\{[^}]*\});/.exec(script)![1]!) as Record<string, string>;
  return [...assets, ...Object.values(workers)];
}

/** The body of an asset as sent: raw bytes, whatever the encoding. */
const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

describe('GraphiQL page', () => {
  it('is a small page under a content security policy that allows only same-origin scripts', async () => {
    const { res, html, assets } = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.length).toBeLessThan(2048);
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/) as [string, ...string[]])
        .map(([n, ...v]) => [n, v]),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('worker-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // Nothing inline the policy would block, and nothing from elsewhere.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/<style/);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) expect(asset).toMatch(/^\/graphiql\/[a-z.]+-[0-9a-f]{16}\.(js|css|ico)$/);
  });

  it('opens with a working example query and no placeholder header (nothing it sends fails at once)', async () => {
    const { assets } = await page();
    const script = (await (await get(assets.find((a) => a.endsWith('.js'))!)).text()).slice(-4000);
    const options = JSON.parse(/renderYogaGraphiQL\([^,]+, (\{.*\})\);\s*$/s.exec(script)![1]!);
    expect(options.defaultQuery).toBe(GRAPHIQL_DEFAULT_QUERY);
    expect(options).not.toHaveProperty('headers');
    expect(options).not.toHaveProperty('defaultHeaders');
    expect(options.shouldPersistHeaders).toBe(false);
    expect(GRAPHIQL_DEFAULT_QUERY).toMatch(/Headers tab/);
    expect(GRAPHIQL_DEFAULT_QUERY).toMatch(/"X-API-Key": "server-…"/);

    const scoped = await tenant.scopedKey([]);
    const credentials = [
      { key: tenant.dev.fullAccessKey.secret },
      { key: tenant.dev.publishableKey.secret },
      { key: scoped.secret },
      { token: tenant.owner.token },
    ];
    for (const credential of credentials) {
      const { status, body } = await t.query(GRAPHIQL_DEFAULT_QUERY, {}, credential);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data?.viewer.kind).toBe('token' in credential ? 'USER' : 'API_KEY');
    }
  });

  it('answers GraphQL, not the page, when the client does not ask for HTML', async () => {
    const res = await get('/graphql?query=%7B%20viewer%20%7B%20kind%20%7D%20%7D', { accept: 'application/json' });
    expect(res.status).toBe(401);
    expect(codes(await res.json())).toEqual(['UNAUTHENTICATED']);
  });
});

describe('GraphiQL assets', () => {
  it('answer brotli or gzip by Accept-Encoding (identity without one), cacheable forever, with an ETag', async () => {
    const assets = await allAssets();
    expect(assets).toHaveLength(6);
    let identityTotal = 0;
    let brotliTotal = 0;
    for (const asset of assets) {
      const identity = await get(asset);
      expect(identity.status, asset).toBe(200);
      expect(identity.headers.get('content-encoding'), asset).toBeNull();
      const plain = await bytesOf(identity);
      identityTotal += plain.length;
      expect(identity.headers.get('cache-control'), asset).toBe('public, max-age=31536000, immutable');
      expect(identity.headers.get('vary'), asset).toBe('accept-encoding');
      expect(identity.headers.get('etag'), asset).toMatch(/^"[0-9a-f]{32}"$/);
      expect(identity.headers.get('content-type'), asset).toMatch(/^(text\/javascript|text\/css|image\/)/);

      const br = await get(asset, { 'accept-encoding': 'gzip, deflate, br, zstd' });
      expect(br.headers.get('content-encoding'), asset).toBe('br');
      const brBytes = await bytesOf(br);
      brotliTotal += brBytes.length;
      expect(Number(br.headers.get('content-length'))).toBe(brBytes.length);
      expect(brotliDecompressSync(brBytes).equals(plain), asset).toBe(true);

      const gz = await get(asset, { 'accept-encoding': 'gzip, br;q=0' });
      expect(gz.headers.get('content-encoding'), asset).toBe('gzip');
      expect(gunzipSync(await bytesOf(gz)).equals(plain), asset).toBe(true);

      const notModified = await get(asset, { 'if-none-match': identity.headers.get('etag')! });
      expect(notModified.status, asset).toBe(304);
      expect((await bytesOf(notModified)).length).toBe(0);
    }
    // GraphiQL itself is about 9 MB; what a browser downloads is a fraction of that.
    expect(identityTotal).toBeGreaterThan(8_000_000);
    expect(brotliTotal).toBeLessThan(identityTotal / 3);
  });

  it('are compressed once: later requests get the same bytes at once', async () => {
    const { assets } = await page();
    const biggest = assets.find((a) => /\/graphiql-[0-9a-f]+\.js$/.test(a))!;
    expect(biggest).toBeDefined();
    const response = await get(biggest, { 'accept-encoding': 'br' });
    expect(response.headers.get('content-encoding')).toBe('br');
    const first = await bytesOf(response);
    expect(first.length).toBeGreaterThan(500_000);
    const started = performance.now();
    for (let i = 0; i < 10; i++) {
      const again = await bytesOf(await get(biggest, { 'accept-encoding': 'br' }));
      expect(again.equals(first)).toBe(true);
    }
    // Compressing this 5 MB script takes about half a second; ten answers from memory take milliseconds.
    expect(performance.now() - started).toBeLessThan(400);
  });

  it('answer 404 for names they do not have and 405 for other methods', async () => {
    const { assets } = await page();
    expect((await get('/graphiql/graphiql-0000000000000000.js')).status).toBe(404);
    expect((await get('/graphiql/../package.json')).status).toBe(404);
    const post = await get(assets[0]!, {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await get(assets[0]!, {}, 'HEAD');
    expect(head.status).toBe(200);
  });
});
