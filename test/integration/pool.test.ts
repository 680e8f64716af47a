/**
 * A pool of subscriptions through the sandbox: the simulated ARM serves two subscriptions, each with its
 * own quota; admission places a new platform in the first with room, and every flow reaches its resources
 * in the subscription its record names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const FIRST = '00000000-0000-4000-8000-00000000000a';
const SECOND = '00000000-0000-4000-8000-00000000000b';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    settings: { AZURE_SUBSCRIPTION_IDS: `${FIRST},${SECOND}` },
    arm: { retryAfterSeconds: 0 },
  });
  // The default subscription has no spot vCPUs left in the region: a default platform's spot GPU pool
  // (2 × Standard_NC4as_T4_v3 at its autoscaler maximum) needs 8.
  app.arm.setQuotaLimit('lowPriorityCores', 4, FIRST);
});
afterAll(() => app?.close());

const { run, record, tagged } = platformFlows(() => app);
const inSubscription = (id: string, subscriptionId: string) =>
  tagged(id).filter((r) => r.id.toLowerCase().startsWith(`/subscriptions/${subscriptionId}/`));

describe('a pool of subscriptions', () => {
  it('the dry run shows where the platform would go and its fit in each subscription', async () => {
    const reply = await app.call('POST', '/platforms?dryRun=true', {
      body: { prefix: 'where', models: ['phi3.5'] },
    });
    expect(reply.status).toBe(200);
    expect(reply.json.plan.placement).toEqual({
      subscriptionId: SECOND,
      queuedIn: null,
      subscriptions: [
        { subscriptionId: FIRST, fits: false },
        { subscriptionId: SECOND, fits: true },
      ],
    });
    expect(reply.json.plan.admission.fits).toBe(true);
  });

  it('places a platform in the subscription with room, and stop, start and delete act there', async () => {
    expect(
      (await app.call('POST', '/platforms', { body: { prefix: 'pooled', models: ['phi3.5'] } })).status,
    ).toBe(202);
    await run('pooled');
    const placed = await record('pooled');
    expect(placed.phase).toBe('Ready');
    expect(placed.subscriptionId).toBe(SECOND);
    expect((await app.call('GET', '/platforms/pooled')).json.subscriptionId).toBe(SECOND);
    // Everything it has lives in the second subscription; nothing was written in the first.
    expect(tagged('pooled').length).toBeGreaterThan(0);
    expect(inSubscription('pooled', SECOND)).toEqual(tagged('pooled'));
    const writesIn = (subscriptionId: string) =>
      app.arm.requests.filter(
        (r) => r.method !== 'GET' && r.path.toLowerCase().startsWith(`/subscriptions/${subscriptionId}/`),
      );
    expect(writesIn(FIRST)).toEqual([]);

    const power = () =>
      inSubscription('pooled', SECOND).find(
        (r) => r.type.toLowerCase() === 'microsoft.containerservice/managedclusters',
      )?.properties.powerState;
    expect((await app.call('POST', '/platforms/pooled/stop')).status).toBe(202);
    await run('pooled');
    expect((await record('pooled')).phase).toBe('Stopped');
    expect(power()).toEqual({ code: 'Stopped' });
    expect((await app.call('POST', '/platforms/pooled/start')).status).toBe(202);
    await run('pooled');
    expect((await record('pooled')).phase).toBe('Ready');
    expect(power()).toEqual({ code: 'Running' });

    expect((await app.call('DELETE', '/platforms/pooled')).status).toBe(202);
    await run('pooled:teardown');
    expect((await record('pooled')).phase).toBe('Deleted');
    expect(tagged('pooled')).toEqual([]);
    expect(writesIn(FIRST)).toEqual([]);
    // Four flows end to end on a virtual clock: seconds of real time each, more on a busy machine.
  }, 120_000);

  it('refuses before any write when no subscription has room, naming each subscription', async () => {
    app.arm.setQuotaLimit('lowPriorityCores', 4, SECOND);
    try {
      const before = app.arm.requests.filter((r) => r.method !== 'GET').length;
      const reply = await app.call('POST', '/platforms', { body: { prefix: 'nowhere', models: ['phi3.5'] } });
      expect(reply.status).toBe(409);
      expect(reply.json.detail).toContain(`subscription ${FIRST}:`);
      expect(reply.json.detail).toContain(`subscription ${SECOND}:`);
      expect(reply.json.quotas).toContainEqual(
        expect.objectContaining({ subscriptionId: SECOND, name: 'lowPriorityCores', missing: 4 }),
      );
      expect(app.arm.requests.filter((r) => r.method !== 'GET').length).toBe(before);
      expect((await app.call('GET', '/platforms/nowhere')).status).toBe(404);
    } finally {
      app.arm.setQuotaLimit('lowPriorityCores', 350, SECOND);
    }
  });
});
