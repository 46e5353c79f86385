import { describe, expect, it, vi } from 'vitest';
import { createKeygate } from '../../src/app.js';
import { testKeygateConfig } from '../harness/keygate.js';

/**
 * Redis is optional (KEYGATE_REDIS_URL): an instance without it must not pay
 * for loading its client. The mock only records that something imported
 * ioredis (vitest calls the factory on the first import) and hands back the
 * real module. SQLite only: the database plays no part here.
 */
const imported = vi.hoisted(() => ({ ioredis: false }));
vi.mock('ioredis', async (importOriginal) => {
  imported.ioredis = true;
  return importOriginal();
});

describe('the Redis client', () => {
  it('is not loaded by an instance without Redis, and is by one with KEYGATE_REDIS_URL', async () => {
    const alone = await createKeygate({ config: await testKeygateConfig({ redisUrl: null }) });
    await alone.close();
    expect(imported.ioredis).toBe(false);

    // Nothing listens on port 1: the instance starts after a second, on its own buckets.
    const shared = await createKeygate({ config: await testKeygateConfig({ redisUrl: 'redis://127.0.0.1:1' }) });
    await shared.close();
    expect(imported.ioredis).toBe(true);
  });
});
