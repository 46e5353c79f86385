import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useConsole } from '../../src/console/console.plugin.js';

/** A Yoga with only the console plugin, serving a fake build from a temporary directory. */
function yogaServing(dir: string) {
  const schema = createSchema({ typeDefs: 'type Query { ok: Boolean }', resolvers: { Query: { ok: () => true } } });
  return createYoga({ schema, plugins: [useConsole({ dir })], logging: false });
}

function fakeBuild(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-console-dist-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Keygate console</title>');
  writeFileSync(path.join(dir, 'assets', 'console.js'), 'console.log(1)');
  writeFileSync(path.join(dir, 'assets', 'console.css'), 'body{}');
  writeFileSync(path.join(dir, 'secret.txt'), 'outside assets');
  return dir;
}

describe('useConsole', () => {
  const yoga = yogaServing(fakeBuild());
  const get = (pathname: string, method = 'GET') => Promise.resolve(yoga.fetch(`http://keygate.test${pathname}`, { method }));

  it('serves the page at /console and /console/ with a same-origin-only content security policy', async () => {
    for (const pathname of ['/console', '/console/']) {
      const res = await get(pathname);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await res.text()).toContain('Keygate console');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('serves the built assets with their content types', async () => {
    const js = await get('/console/assets/console.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toBe('console.log(1)');
    const css = await get('/console/assets/console.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('answers 404 for unknown assets, other file types and any path that leaves assets/', async () => {
    for (const pathname of [
      '/console/assets/missing.js',
      '/console/assets/../secret.txt',
      '/console/assets/..%2fsecret.txt',
      '/console/assets/%2e%2e/index.html',
      '/console/secret.txt',
      '/console/assets/',
    ]) {
      expect((await get(pathname)).status, pathname).toBe(404);
    }
  });

  it('refuses methods other than GET and HEAD, and leaves /graphql to Yoga', async () => {
    expect((await get('/console', 'POST')).status).toBe(405);
    const head = await get('/console', 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const graphql = await Promise.resolve(
      yoga.fetch('http://keygate.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ ok }' }),
      }),
    );
    expect(await graphql.json()).toEqual({ data: { ok: true } });
  });

  it('says how to build the console when it was never built', async () => {
    const unbuilt = yogaServing(path.join(tmpdir(), 'keygate-console-missing'));
    const res = await Promise.resolve(unbuilt.fetch('http://keygate.test/console'));
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
  });
});
