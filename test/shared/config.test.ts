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
});
