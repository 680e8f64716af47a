/**
 * Queued admission through the sandbox: a platform that fits only once a platform being deleted is gone
 * is accepted as Queued with its place, nothing is created for it meanwhile, and it is admitted and
 * provisioned when that delete completes. One that would not fit even then is refused before any write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformFlows } from '../support/flows.js';
import { startTestApp, type TestApp } from '../support/harness.js';

let app: TestApp;
beforeAll(async () => {
  // Room for one default platform's spot GPU pool (2 × Standard_NC4as_T4_v3 at its autoscaler maximum: 8
  // low-priority vCPUs), and not for two.
  app = await startTestApp({ arm: { retryAfterSeconds: 0, quotaLimits: { lowPriorityCores: 8 } } });
});
afterAll(() => app?.close());

const { run, record, tagged } = platformFlows(() => app);
const body = (prefix: string) => ({ prefix, models: ['phi3.5'] });

describe('queued admission', () => {
  it('a platform that fits only once a deleting one is gone is Queued with position 1 and proceeds to Ready when the delete completes', async () => {
    expect((await app.call('POST', '/platforms', { body: body('first') })).status).toBe(202);
    await run('first');
    expect((await record('first')).phase).toBe('Ready');
    // No room now: the first platform's cluster holds the spot vCPUs.
    expect(
      (await app.call('POST', '/platforms?dryRun=true', { body: body('second') })).json.plan.placement,
    ).toMatchObject({ subscriptionId: null, queuedIn: null });
    expect((await app.call('POST', '/platforms', { body: body('second') })).status).toBe(409);

    expect((await app.call('DELETE', '/platforms/first')).status).toBe(202);
    const queued = await app.call('POST', '/platforms', { body: body('second') });
    expect(queued.status).toBe(202);
    expect(queued.json).toMatchObject({ id: 'second', phase: 'Queued', position: 1 });
    const status = await app.call('GET', '/platforms/second/status');
    expect(status.json).toMatchObject({ phase: 'Queued', queue: { position: 1 } });
    const listed = (await app.call('GET', '/platforms')).json.platforms.find(
      (p: { id: string }) => p.id === 'second',
    );
    expect(listed).toMatchObject({ phase: 'Queued', position: 1 });
    // Nothing is created while it waits: no flow, nothing in Azure.
    expect(app.instances.instances.get('second')).toBeUndefined();
    expect(tagged('second')).toEqual([]);
    // Other actions wait for it to be admitted.
    for (const action of ['stop', 'start', 'wipe', 'retry'])
      expect((await app.call('POST', `/platforms/second/${action}`)).status).toBe(409);

    // The room the deletion frees is promised to the queued platform: a third one would not fit even then,
    // and is refused before any write.
    const writes = app.arm.requests.filter((r) => r.method !== 'GET').length;
    const refused = await app.call('POST', '/platforms', { body: body('third') });
    expect(refused.status).toBe(409);
    expect(refused.json.type).toBe('/problems/quota-exceeded');
    expect(refused.json.detail).toMatch(/lowPriorityCores/);
    expect(app.arm.requests.filter((r) => r.method !== 'GET').length).toBe(writes);
    expect((await app.call('GET', '/platforms/third')).status).toBe(404);

    // The delete completes: the queued platform is admitted and provisioned.
    await run('first:teardown');
    expect((await record('first')).phase).toBe('Deleted');
    expect((await record('second')).phase).not.toBe('Queued');
    await run('second');
    expect((await record('second')).phase).toBe('Ready');
    expect(tagged('second').length).toBeGreaterThan(0);
  });

  it('DELETE of a queued platform removes it at once, without a flow', async () => {
    expect((await app.call('DELETE', '/platforms/second')).status).toBe(202);
    const reply = await app.call('POST', '/platforms', {
      body: { ...body('waiting'), huggingFaceToken: 'hf_TokenValue0123456789' },
    });
    expect(reply.json).toMatchObject({ phase: 'Queued', position: 1 });
    const removed = await app.call('DELETE', '/platforms/waiting');
    expect(removed.status).toBe(202);
    expect(removed.json).toMatchObject({ phase: 'Deleted' });
    expect((await record('waiting')).phase).toBe('Deleted');
    expect(app.instances.instances.get('waiting:teardown')).toBeUndefined();
    // The token, the one thing stored for it, is deleted (soft-deleted: a later platform of the prefix
    // recovers the name, as after a teardown).
    expect(app.keyVault.inventory().filter((s) => s.name.includes('-waiting-'))).toEqual([
      expect.objectContaining({ deleted: true }),
    ]);
    await run('second:teardown');
  });
});
