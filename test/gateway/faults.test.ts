import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs, codes, seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';
import { startRawUpstream, startYogaUpstream, type TestUpstream } from '../harness/upstreams.js';

/** Every faulty upstream serves this SDL (read from a file, so a dead one can still be configured). */
const SDL = 'type Query { value: Int }';

type Behaviour = 'hang' | '500' | 'html' | 'huge' | 'redirect' | 'error' | 'data' | 'extensions';
let behaviour: Behaviour = 'hang';

let t: TestKeygate;
let tenant: Tenant;
let faulty: TestUpstream;
let healthy: TestUpstream;
let deadUrl: string;

/** A port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  faulty = await startRawUpstream('faulty', (_req, res) => {
    switch (behaviour) {
      case 'data':
        res.setHeader('content-type', 'application/json');
        return res.end('{ "data" : { "value" : 7 } }');
      case 'extensions':
        res.setHeader('content-type', 'application/json');
        return res.end('{"data":{"value":7},"extensions":{"trace":"db=orders-7 host=10.0.0.12"}}');
      case 'hang':
        return; // never answers
      case '500':
        res.statusCode = 500;
        return res.end('{"errors":[{"message":"stack trace at /srv/app.js:12"}]}');
      case 'html':
        res.setHeader('content-type', 'text/html');
        return res.end('<html>Bad gateway</html>');
      case 'huge':
        res.setHeader('content-type', 'application/json');
        return res.end(`{"data":{"value":1},"pad":"${'x'.repeat(10 * 1024 * 1024)}"}`);
      case 'redirect':
        res.statusCode = 302;
        res.setHeader('location', 'http://169.254.169.254/latest/meta-data');
        return res.end();
      case 'error':
        res.setHeader('content-type', 'application/json');
        return res.end(
          JSON.stringify({
            data: { value: null },
            errors: [
              {
                message: 'Value is out of stock.',
                path: ['value'],
                extensions: { code: 'OUT_OF_STOCK', stacktrace: ['at /srv/app.js:12'], internal: 'db=orders-7' },
              },
            ],
          }),
        );
    }
  });
  healthy = await startYogaUpstream('healthy', 'type Query { ok: Boolean }', { Query: { ok: () => true } });
  deadUrl = `http://127.0.0.1:${await closedPort()}/graphql`;
  const dir = mkdtempSync(path.join(tmpdir(), 'keygate-faults-'));
  writeFileSync(path.join(dir, 'value.graphql'), SDL);
  writeFileSync(path.join(dir, 'gone.graphql'), 'type Query { gone: Int }');
  const file = path.join(dir, 'upstreams.json');
  writeFileSync(
    file,
    JSON.stringify({
      upstreams: [
        { name: 'faulty', url: faulty.url, schema: { file: 'value.graphql' }, timeoutMs: 300, reloadSeconds: 0 },
        { name: 'gone', url: deadUrl, schema: { file: 'gone.graphql' }, timeoutMs: 300, reloadSeconds: 0 },
        { name: 'healthy', url: healthy.url, schema: { federation: true }, reloadSeconds: 0 },
      ],
    }),
  );
  t = await startTestKeygate({ upstreamsFile: file, dataDir: dir });
  tenant = await seedTenant(t);
});

const ask = (query: string) => t.query(query, {}, { key: tenant.dev.fullAccessKey.secret });

describe('upstream faults', () => {
  it.each([
    ['never answers (timeoutMs)', 'hang'],
    ['answers 500', '500'],
    ['answers a body that is not GraphQL', 'html'],
    ['answers 10 MB (over maxResponseBytes)', 'huge'],
    ['redirects (not followed)', 'redirect'],
  ] as const)(
    'an upstream that %s nulls its fields alone with UPSTREAM_UNAVAILABLE, naming it and nothing else',
    async (_what, mode) => {
      behaviour = mode;
      const logged = capturedLogs.length;
      const { status, body } = await ask('{ value ok viewer { kind } }');
      expect(status).toBe(200);
      expect(body.data).toEqual({ value: null, ok: true, viewer: { kind: 'API_KEY' } });
      expect(body.errors).toEqual([
        {
          message: 'Upstream faulty is unavailable.',
          path: ['value'],

          extensions: { code: 'UPSTREAM_UNAVAILABLE', upstream: 'faulty' },
        },
      ]);
      expect(JSON.stringify(body)).not.toMatch(/127\.0\.0\.1|169\.254|stack|srv/);
      const warnings = capturedLogs
        .slice(logged)
        .map((l) => JSON.parse(l))
        .filter((r) => r.msg === 'upstream unavailable');
      expect(warnings.map((w) => w.upstream)).toContain('faulty');
    },
  );

  it.each([
    ['answers 500', '500'],
    ['answers a body that is not GraphQL', 'html'],
    ['redirects (not followed)', 'redirect'],
  ] as const)('answers an operation of its own alone the same way when it %s, asking it once', async (_what, mode) => {
    behaviour = mode;
    const from = faulty.received.length;
    const { status, body } = await ask('query Alone { value }');
    expect(status).toBe(200);
    expect(body).toEqual({
      data: { value: null },
      errors: [
        {
          message: 'Upstream faulty is unavailable.',
          path: ['value'],
          extensions: { code: 'UPSTREAM_UNAVAILABLE', upstream: 'faulty' },
        },
      ],
    });
    expect(faulty.received.length - from).toBe(1);
  });

  it('nulls the fields of an upstream that cannot be reached at all', async () => {
    const { body } = await ask('{ gone ok }');
    expect(body.data).toEqual({ gone: null, ok: true });
    expect(codes(body)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(body.errors![0]!.message).toBe('Upstream gone is unavailable.');
  });

  it('passes the upstream’s own errors through with message, path and code, plus extensions.upstream, and nothing else of theirs', async () => {
    behaviour = 'error';
    const { body } = await ask('{ value ok }');
    expect(body.data).toEqual({ value: null, ok: true });
    expect(body.errors).toEqual([
      {
        message: 'Value is out of stock.',
        path: ['value'],

        extensions: { code: 'OUT_OF_STOCK', upstream: 'faulty' },
      },
    ]);
  });

  it('passes its errors through the same way when it answers an operation of its own alone', async () => {
    behaviour = 'error';
    const from = faulty.received.length;
    const { body } = await ask('query Alone { value }');
    expect(body).toEqual({
      data: { value: null },
      errors: [{ message: 'Value is out of stock.', path: ['value'], extensions: { code: 'OUT_OF_STOCK', upstream: 'faulty' } }],
    });
    expect(faulty.received.length - from).toBe(1);
  });

  it('answers an operation of its own alone with the upstream’s data as it wrote it, and never its extensions', async () => {
    behaviour = 'data';
    const res = await t.fetch({ query: 'query Alone { value }' }, { 'x-api-key': tenant.dev.fullAccessKey.secret });
    // Data alone: the upstream's text is relayed as it came (spacing included), not serialized anew.
    expect(await res.text()).toBe('{ "data" : { "value" : 7 } }');
    behaviour = 'extensions';
    const { body } = await ask('query Alone { value }');
    expect(body).toEqual({ data: { value: 7 } });
    expect(JSON.stringify(body)).not.toMatch(/trace|orders-7|10\.0\.0/);
  });

  it('keeps serving after every fault', async () => {
    const { body } = await ask('{ ok viewer { kind } }');
    expect(body).toEqual({ data: { ok: true, viewer: { kind: 'API_KEY' } } });
  });

  it('reuses its connections to an upstream (keep-alive)', async () => {
    const before = healthy.connections();
    for (let i = 0; i < 10; i++) expect((await ask('{ ok }')).body).toEqual({ data: { ok: true } });
    expect(healthy.connections() - before).toBeLessThanOrEqual(1);
  });
});
