import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLogs } from '../../src/shared/logger.js';

/** A stand-in for standard output that keeps what is written, a terminal or not. */
function fakeStdout(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

const SECRET_TOKEN = 'HMAC-SHA256 cus_1:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

function logOneRequest(isTTY: boolean, env: NodeJS.ProcessEnv) {
  const out = fakeStdout(isTTY);
  const logger = createLogger('info', undefined, { stdout: out.stream, env });
  logger.info(
    {
      requestId: 'req-12345678',
      status: 200,
      headers: { 'x-customer-key': SECRET_TOKEN, 'x-customer-token': SECRET_TOKEN, authorization: 'Bearer server-x' },
    },
    'request',
  );
  return out;
}

describe('log format', () => {
  it('is pretty-printed when standard output is a terminal outside production', async () => {
    expect(prettyLogs({ stdout: { isTTY: true } as NodeJS.WriteStream, env: {} })).toBe(true);
    const out = logOneRequest(true, { NODE_ENV: 'development' });
    await expect.poll(out.text).toContain('request');
    const line = out.text().trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(() => JSON.parse(line)).toThrow();
    expect(line).toMatch(/INFO/);
    expect(line).toContain('req-12345678');
    expect(line).toContain('[redacted]');
    expect(line).not.toContain('0123456789abcdef');
    expect(line).not.toContain('server-x');
  });

  it('is JSON in production, and whenever standard output is not a terminal', async () => {
    expect(prettyLogs({ stdout: { isTTY: true } as NodeJS.WriteStream, env: { NODE_ENV: 'production' } })).toBe(false);
    expect(prettyLogs({ stdout: { isTTY: false } as NodeJS.WriteStream, env: {} })).toBe(false);
    for (const out of [logOneRequest(true, { NODE_ENV: 'production' }), logOneRequest(false, {})]) {
      await expect.poll(out.text).toContain('request');
      const record = JSON.parse(out.text().trim());
      expect(record).toMatchObject({ name: 'keygate', msg: 'request', requestId: 'req-12345678', level: 30 });
      // Both customer-token headers, the platform SDK's X-Customer-Key included, are redacted.
      expect(record.headers).toEqual({
        'x-customer-key': '[redacted]',
        'x-customer-token': '[redacted]',
        authorization: '[redacted]',
      });
    }
  });
});
