import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

const production = {
  NODE_ENV: 'production',
  KEYGATE_MASTER_KEY: randomBytes(32).toString('hex'),
  KEYGATE_SESSION_SECRET: randomBytes(32).toString('base64'),
  KEYGATE_DATA_DIR: '/nonexistent-keygate-config-test',
};

describe('configuration', () => {
  it('reads KEYGATE_METRICS_TOKEN; in production, warns when /metrics is left open', () => {
    const open = loadConfig(production);
    expect(open.metricsToken).toBeNull();
    expect(open.notices.join('\n')).toMatch(/KEYGATE_METRICS_TOKEN not set: \/metrics is open/);

    const guarded = loadConfig({ ...production, KEYGATE_METRICS_TOKEN: 'tok-123' });
    expect(guarded.metricsToken).toBe('tok-123');
    expect(guarded.notices).toEqual([]);
    expect(JSON.stringify(guarded.notices)).not.toContain('tok-123');
  });

  it('reads the read bounds: KEYGATE_STATEMENT_TIMEOUT_MS (5000), KEYGATE_SQLITE_READERS (2), KEYGATE_SQLITE_READ_QUEUE (256)', () => {
    expect(loadConfig(production)).toMatchObject({ statementTimeoutMs: 5000, sqliteReaders: 2, sqliteReadQueue: 256 });
    const set = loadConfig({
      ...production,
      KEYGATE_STATEMENT_TIMEOUT_MS: '250',
      KEYGATE_SQLITE_READERS: '1',
      KEYGATE_SQLITE_READ_QUEUE: '0',
    });
    expect(set).toMatchObject({ statementTimeoutMs: 250, sqliteReaders: 1, sqliteReadQueue: 0 });
    // No timeout and no reader would be no bound and no reads: refused, as is nonsense.
    expect(() => loadConfig({ ...production, KEYGATE_STATEMENT_TIMEOUT_MS: '0' })).toThrow(
      /KEYGATE_STATEMENT_TIMEOUT_MS must be at least 1/,
    );
    expect(() => loadConfig({ ...production, KEYGATE_SQLITE_READERS: '0' })).toThrow(/KEYGATE_SQLITE_READERS must be at least 1/);
    expect(() => loadConfig({ ...production, KEYGATE_SQLITE_READ_QUEUE: 'many' })).toThrow(/KEYGATE_SQLITE_READ_QUEUE/);
  });

  it('reads KEYGATE_HEAP_GROWTH_PERCENT (default 40, 0 keeps V8’s own) and refuses nonsense', () => {
    expect(loadConfig(production).heapGrowthPercent).toBe(40);
    expect(loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent).toBe(0);
    expect(loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: '100' }).heapGrowthPercent).toBe(100);
    expect(() => loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: '-5' })).toThrow(/KEYGATE_HEAP_GROWTH_PERCENT/);
    expect(() => loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: 'lots' })).toThrow(/KEYGATE_HEAP_GROWTH_PERCENT/);
  });

  it('reads the verified-key cache budget (KEYGATE_KEY_CACHE_MB, default 64, fractions allowed) and lifetime (default 15 minutes)', () => {
    expect(loadConfig(production)).toMatchObject({ keyCacheMb: 64, keyCacheTtlMs: 15 * 60_000 });
    expect(loadConfig({ ...production, KEYGATE_KEY_CACHE_MB: '0.5', KEYGATE_KEY_CACHE_TTL_MS: '0' })).toMatchObject({
      keyCacheMb: 0.5,
      keyCacheTtlMs: 0,
    });
    expect(() => loadConfig({ ...production, KEYGATE_KEY_CACHE_MB: '-1' })).toThrow(/KEYGATE_KEY_CACHE_MB/);
    expect(() => loadConfig({ ...production, KEYGATE_KEY_CACHE_MB: 'lots' })).toThrow(/KEYGATE_KEY_CACHE_MB/);
    expect(() => loadConfig({ ...production, KEYGATE_KEY_CACHE_TTL_MS: '10s' })).toThrow(/KEYGATE_KEY_CACHE_TTL_MS/);
  });

  it('reads the identity provider: https JWKS (http on loopback only), issuer, audience, user claim', () => {
    expect(loadConfig(production).identityProvider).toBeNull();
    expect(
      loadConfig({
        ...production,
        KEYGATE_SESSION_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
        KEYGATE_SESSION_ISSUER: 'https://idp.example.com/',
        KEYGATE_SESSION_AUDIENCE: 'keygate',
        KEYGATE_SESSION_USER_CLAIM: 'email',
      }).identityProvider,
    ).toEqual({
      jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
      issuer: 'https://idp.example.com/',
      audience: 'keygate',
      userClaim: 'email',
    });
    expect(loadConfig({ ...production, KEYGATE_SESSION_JWKS_URL: 'http://127.0.0.1:9000/jwks' }).identityProvider).toMatchObject({
      userClaim: 'sub',
      issuer: null,
      audience: null,
    });
    expect(() => loadConfig({ ...production, KEYGATE_SESSION_JWKS_URL: 'http://idp.example.com/jwks' })).toThrow(/https/);
    expect(() => loadConfig({ ...production, KEYGATE_SESSION_JWKS_URL: 'not a url' })).toThrow(/must be a URL/);
    expect(() =>
      loadConfig({ ...production, KEYGATE_SESSION_JWKS_URL: 'https://idp.example.com/jwks', KEYGATE_SESSION_USER_CLAIM: 'name' }),
    ).toThrow(/sub or email/);
  });

  it('reads KEYGATE_FAILED_AUTH_LIMIT_LOOPBACK (default false) and refuses anything but true or false', () => {
    expect(loadConfig(production).rateLimit.limitLoopback).toBe(false);
    expect(loadConfig({ ...production, KEYGATE_FAILED_AUTH_LIMIT_LOOPBACK: 'true' }).rateLimit.limitLoopback).toBe(true);
    expect(() => loadConfig({ ...production, KEYGATE_FAILED_AUTH_LIMIT_LOOPBACK: 'yes' })).toThrow(/true or false/);
  });

  it('reads KEYGATE_WEBHOOK_ALLOW_PRIVATE (default false) and KEYGATE_WEBHOOK_RETRY_SCHEDULE (default SPEC §10’s), refusing nonsense', () => {
    const defaults = loadConfig(production);
    expect(defaults.webhookAllowPrivate).toBe(false);
    expect(defaults.webhookRetryScheduleSeconds).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(loadConfig({ ...production, KEYGATE_WEBHOOK_ALLOW_PRIVATE: 'true' }).webhookAllowPrivate).toBe(true);
    expect(() => loadConfig({ ...production, KEYGATE_WEBHOOK_ALLOW_PRIVATE: 'yes please' })).toThrow(
      /KEYGATE_WEBHOOK_ALLOW_PRIVATE/,
    );
    expect(loadConfig({ ...production, KEYGATE_WEBHOOK_RETRY_SCHEDULE: ' 1, 2 ,60' }).webhookRetryScheduleSeconds).toEqual([
      1, 2, 60,
    ]);
    expect(loadConfig({ ...production, KEYGATE_WEBHOOK_RETRY_SCHEDULE: '' }).webhookRetryScheduleSeconds).toEqual(
      defaults.webhookRetryScheduleSeconds,
    );
    for (const bad of ['5,,10', '0', '-5', '1.5', 'soon', '604801', Array(21).fill('1').join(',')]) {
      expect(() => loadConfig({ ...production, KEYGATE_WEBHOOK_RETRY_SCHEDULE: bad }), bad).toThrow(
        /KEYGATE_WEBHOOK_RETRY_SCHEDULE/,
      );
    }
  });
});
