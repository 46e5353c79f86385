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

  it('reads KEYGATE_HEAP_GROWTH_PERCENT (default 50, 0 keeps V8’s own) and refuses nonsense', () => {
    expect(loadConfig(production).heapGrowthPercent).toBe(50);
    expect(loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent).toBe(0);
    expect(loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: '100' }).heapGrowthPercent).toBe(100);
    expect(() => loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: '-5' })).toThrow(/KEYGATE_HEAP_GROWTH_PERCENT/);
    expect(() => loadConfig({ ...production, KEYGATE_HEAP_GROWTH_PERCENT: 'lots' })).toThrow(/KEYGATE_HEAP_GROWTH_PERCENT/);
  });
});
