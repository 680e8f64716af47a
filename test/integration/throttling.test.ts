/**
 * A burst of platforms against ARM's and AKS's request budgets (sandbox/azure/arm/budgets.ts), through the
 * whole sandbox: the buckets are made small enough that eight platforms at once meet the limits a fleet
 * of hundreds meets with the published sizes (bench/fleet.ts measures that fleet). Every throttled call is waited out on durable timers
 * (Retry-After honoured) and no platform fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_BUDGETS, type BudgetSizes } from '../../sandbox/azure/arm.js';
import { platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const PLATFORMS = 8;

/**
 * Writes and every AKS budget ten to twenty times smaller than published; reads keep their burst so the
 * admission reads of the requests fit (their refusal is a 503 to the caller, not a flow's concern), and
 * refill ten times slower.
 */
const BUDGETS: BudgetSizes = {
  principal: {
    reads: { burst: PUBLISHED_BUDGETS.principal.reads.burst, perSecond: 2.5 },
    writes: { burst: 10, perSecond: 1 },
    deletes: { burst: 10, perSecond: 1 },
  },
  globalFactor: PUBLISHED_BUDGETS.globalFactor,
  aks: {
    list: { burst: 50, perSecond: 0.1 },
    putCluster: { burst: 2, perSecond: 1 / 600 },
    getCluster: { burst: 6, perSecond: 0.1 },
    operationStatus: { burst: 10, perSecond: 0.2 },
    other: { burst: 6, perSecond: 0.1 },
  },
};

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    arm: {
      budgets: BUDGETS,
      quotaLimits: { cores: 2_000, lowPriorityCores: 2_000, standardDSv5Family: 2_000 },
    },
  });
});
afterAll(() => app?.close());
const { run, record } = platformFlows(() => app);

describe('a burst of platforms under request budgets', () => {
  it(`${PLATFORMS} platforms requested at once: ARM and AKS throttle them, every 429 is waited out, all reach Ready`, async () => {
    const ids = Array.from({ length: PLATFORMS }, (_, i) => `burst${i}`);
    const answers = await Promise.all(
      ids.map((prefix) => app.call('POST', '/platforms', { body: { prefix, models: ['phi3.5'] } })),
    );
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 202));
    await run(...ids);

    const records = await Promise.all(ids.map(record));
    expect(records.map((r) => [r.id, r.phase, r.lastError])).toEqual(
      ids.map((id) => [id, 'Ready', undefined]),
    );
    // The budgets did throttle the flows, in ARM's writes and in AKS's own buckets.
    const throttled = app.arm.budgets!.throttled;
    expect(app.arm.budgets!.throttledTotal).toBeGreaterThan(PLATFORMS);
    expect(Object.keys(throttled)).toEqual(
      expect.arrayContaining(['arm.writes', 'aks.operationStatus', 'aks.other']),
    );
    // Each throttled request was answered with a Retry-After, and the same caller came back no sooner.
    const refusals = app.arm.requests.filter((r) => r.status === 429);
    expect(refusals.every((r) => (r.retryAfter ?? 0) >= 1)).toBe(true);
  }, 300_000);
});
