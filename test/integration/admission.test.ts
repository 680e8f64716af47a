/**
 * Quota admission through the API in the sandbox: the real @azure/arm-compute client reads the simulated
 * ARM's Microsoft.Compute usages; a platform that does not fit is refused before any write.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  // Pay-as-you-go's regional defaults (20 vCPUs) and a small spot quota: one default platform's spot GPU
  // pool (2 × Standard_NC4as_T4_v3 at its autoscaler maximum) needs 8 low-priority vCPUs.
  app = await startTestApp({ arm: { quotaLimits: { cores: 20, lowPriorityCores: 4 } } });
});
afterAll(() => app?.close());
beforeEach(() => app.arm.faults.clear());

const body = (prefix: string, extra: object = {}) => ({ prefix, models: ['llama3.1:8b'], ...extra });
const writes = () => app.arm.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');

describe('admission', () => {
  it('refuses a platform that does not fit with 409 quota-exceeded, naming the quota and what is missing, before any write', async () => {
    const reply = await app.call('POST', '/platforms', {
      body: body('toobig', { huggingFaceToken: 'hf_TokenValue0123456789' }),
    });
    expect(reply.status).toBe(409);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.json).toMatchObject({ type: '/problems/quota-exceeded', status: 409 });
    expect(reply.json.detail).toMatch(
      /Total Regional Low-priority vCPUs \(lowPriorityCores\) in eastus: 8 needed, 4 left of 4, 4 missing/,
    );
    expect(reply.json.quotas).toContainEqual(
      expect.objectContaining({
        name: 'lowPriorityCores',
        limit: 4,
        inUse: 0,
        needed: 8,
        left: -4,
        missing: 4,
      }),
    );
    // Nothing written: no record, no secret, no Azure write, no flow.
    expect((await app.call('GET', '/platforms/toobig')).status).toBe(404);
    expect([...app.keyVault.secrets.keys()].filter((k) => k.includes('toobig'))).toEqual([]);
    expect(writes()).toEqual([]);
    expect(app.instances.instances.get('toobig')).toBeUndefined();
    // The real SDK read the usages of the platform's region with its api-version.
    expect(app.arm.requests).toContainEqual(
      expect.objectContaining({
        method: 'GET',
        path: expect.stringMatching(/\/providers\/Microsoft\.Compute\/locations\/eastus\/usages$/),
        apiVersion: '2026-04-01',
      }),
    );
  });

  it('admits a platform that fits and starts it', async () => {
    const reply = await app.call('POST', '/platforms', { body: body('fits', { gpu: { maxNodes: 1 } }) });
    expect(reply.status).toBe(202);
    expect(app.instances.instances.get('fits')).toMatchObject({ name: 'provisionPlatform' });
  });

  it('an on-demand GPU pool counts against its family and the regional total, not the spot quota', async () => {
    // 2 × D2s_v5 + 3 × D4s_v5 (apps at its maximum) + 2 × NC4as_T4_v3 = 24 regular vCPUs of 20.
    const reply = await app.call('POST', '/platforms?dryRun=true', {
      body: body('ondemand', { gpu: { spot: false } }),
    });
    expect(reply.status).toBe(200);
    const { admission } = reply.json.plan;
    expect(admission.fits).toBe(false);
    const byName = Object.fromEntries(admission.quotas.map((q: { name: string }) => [q.name, q]));
    expect(byName.cores).toMatchObject({ needed: 24, limit: 20, missing: 4 });
    expect(byName.standardNCASv3_T4Family).toMatchObject({ needed: 8 });
    expect(byName.lowPriorityCores).toBeUndefined();
  });

  it('the dry run shows the fit of every quota: limit, in use, needed, left', async () => {
    const reply = await app.call('POST', '/platforms?dryRun=true', {
      body: body('plan', { gpu: { maxNodes: 1 } }),
    });
    expect(reply.status).toBe(200);
    expect(reply.json.plan.admission).toEqual({
      fits: true,
      location: 'eastus',
      quotas: expect.arrayContaining([
        expect.objectContaining({
          name: 'lowPriorityCores',
          limit: 4,
          inUse: 0,
          needed: 4,
          left: 0,
          missing: 0,
        }),
        expect.objectContaining({ name: 'cores', limit: 20, needed: 16, missing: 0 }),
        expect.objectContaining({ name: 'resourceGroups', limit: 980, needed: 2, missing: 0 }),
        expect.objectContaining({ name: 'managedClusters', limit: 100, inUse: 0, needed: 1 }),
      ]),
    });
    expect(writes()).toEqual([]);
  });

  it('a quota read that keeps failing answers 503 problem+json with Retry-After and writes nothing', async () => {
    app.arm.faults.script(
      'compute.usages.list',
      Array.from({ length: 3 }, () => ({ kind: 'serverError' as const, status: 500 as const })),
    );
    const reply = await app.call('POST', '/platforms', { body: body('unread') });
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.headers['retry-after']).toBe('10');
    expect(reply.json.detail).toMatch(/quota of region eastus could not be read; nothing was created/);
    expect((await app.call('GET', '/platforms/unread')).status).toBe(404);
    expect(app.instances.instances.get('unread')).toBeUndefined();
  });
});
