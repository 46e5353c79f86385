import { beforeAll, describe, expect, it } from 'vitest';
import { storedActivityEvents } from '../../src/modules/activity/activity.repository.js';
import { schema } from '../../src/schema.js';
import { seedTenant, startTestKeygate, type Tenant, type TestKeygate } from '../harness/keygate.js';

/**
 * Issue 12.1: a caller inventing root field names must not grow metrics or
 * storage per name. The burst is bounded (40 requests of 1,500 names, sent
 * with the public publishable key).
 */
describe('a burst of documents naming invented root fields', () => {
  let t: TestKeygate;
  let tenant: Tenant;
  beforeAll(async () => {
    t = await startTestKeygate();
    tenant = await seedTenant(t);
  });

  const REQUESTS = 40;
  const NAMES = 1_500;

  it('leaves the /metrics series bounded by the schema’s own root fields and writes one activity event per request', async () => {
    for (let r = 0; r < REQUESTS; r++) {
      const names = Array.from({ length: NAMES }, (_, i) => `zz_${r}_${i}`).join(' ');
      const res = await t.fetch({ query: `{ ${names} }` }, { 'x-api-key': tenant.dev.publishableKey.secret });
      expect(res.status).toBeLessThan(500);
      await res.arrayBuffer();
    }
    await t.keygate.deps.activity.flush();

    const metrics = await (await t.keygate.yoga.fetch('http://keygate.test/metrics')).text();
    const operationSeries = metrics.split('\n').filter((line) => line.startsWith('keygate_operations_total{'));
    const rootFields =
      Object.keys(schema.getQueryType()!.getFields()).length + Object.keys(schema.getMutationType()!.getFields()).length;
    // Labels come from the schema (plus one bucket for the rest), times the three outcomes.
    expect(operationSeries.length).toBeLessThanOrEqual((rootFields + 1) * 3);
    expect(metrics).not.toMatch(/operation="zz_/);
    expect(metrics.length).toBeLessThan(64 * 1024);

    const rows = await storedActivityEvents(t.keygate.deps.db, t.keygate.deps.database.dialect, tenant.dev.id);
    expect(rows.length).toBe(REQUESTS);
  });
});
