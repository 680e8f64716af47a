/** Admission: the pure fit of a platform against usages, and the service refusing before any write. */
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { loadTemplateSource } from '../../src/manifest-files.js';
import { admit, placement, usagesAfter, type Usage } from '../../src/platform/admission.js';
import { ROLES, type Caller } from '../../src/platform/access.js';
import { createRequestValidator } from '../../src/platform/schema.js';
import type { PlatformSpec } from '../../src/platform/types.js';
import type { Registry } from '../../src/registry/registry.js';
import { ApiError } from '../../src/services/errors.js';
import type { Orchestrations } from '../../src/services/orchestrations.js';
import { PlatformService, type CapacityReader } from '../../src/services/platforms.js';

const usage = (name: string, inUse: number, limit: number): Usage => ({
  name,
  localizedName: name,
  inUse,
  limit,
});
const ROOMY = [
  usage('cores', 0, 350),
  usage('lowPriorityCores', 0, 350),
  usage('standardDSv5Family', 0, 350),
  usage('standardNCASv3_T4Family', 0, 350),
  usage('resourceGroups', 0, 980),
  usage('managedClusters', 0, 100),
];
const spec = (gpu: Partial<PlatformSpec['gpu']> = {}) =>
  ({
    prefix: 'acme',
    location: 'eastus',
    models: ['llama3.1:8b'],
    gpu: { vmSize: 'Standard_NC8as_T4_v3', minNodes: 0, maxNodes: 3, spot: true, ...gpu },
  }) as PlatformSpec;

describe('placement and the queue', () => {
  const full = [usage('lowPriorityCores', 24, 24), ...ROOMY.filter((u) => u.name !== 'lowPriorityCores')];

  it('places in the first subscription of the pool where it fits, passing over unreadable ones', () => {
    expect(
      placement([
        { subscriptionId: 'a', admission: admit(spec(), full) },
        { subscriptionId: 'b', unreadable: true },
        { subscriptionId: 'c', admission: admit(spec(), ROOMY) },
        { subscriptionId: 'd', admission: admit(spec(), ROOMY) },
      ]),
    ).toBe('c');
    expect(placement([{ subscriptionId: 'a', admission: admit(spec(), full) }])).toBeUndefined();
  });

  it('a deleting platform frees its need; a queued one ahead takes its own first', () => {
    const deleting = spec({ maxNodes: 3 }); // 24 spot vCPUs
    expect(admit(spec(), usagesAfter(full, { freed: [deleting], reserved: [] })).fits).toBe(true);
    expect(admit(spec(), usagesAfter(full, { freed: [deleting], reserved: [spec()] })).fits).toBe(false);
    // Never below zero in use.
    expect(
      usagesAfter(ROOMY, { freed: [deleting], reserved: [] }).find((u) => u.name === 'lowPriorityCores'),
    ).toMatchObject({ inUse: 0 });
  });
});

describe('admit', () => {
  it('counts the GPU pool at its autoscaler maximum: vCPUs of the size × maxNodes', () => {
    const fit = admit(spec({ minNodes: 1, maxNodes: 3 }), ROOMY);
    expect(fit.quotas.find((q) => q.name === 'lowPriorityCores')).toMatchObject({ needed: 24 });
  });

  it('a spot pool needs no family quota; an on-demand one needs family and regional total', () => {
    const names = (s: PlatformSpec) => admit(s, ROOMY).quotas.map((q) => q.name);
    expect(names(spec())).not.toContain('standardNCASv3_T4Family');
    const onDemand = admit(spec({ spot: false }), ROOMY).quotas;
    expect(onDemand.find((q) => q.name === 'standardNCASv3_T4Family')).toMatchObject({ needed: 24 });
    // 2 × D2s_v5 + 3 × D4s_v5 + 3 × NC8as_T4_v3.
    expect(onDemand.find((q) => q.name === 'cores')).toMatchObject({ needed: 4 + 12 + 24 });
  });

  it('what others use counts: 20 of 24 used leaves too little for 8', () => {
    const fit = admit(spec({ vmSize: 'Standard_NC4as_T4_v3', maxNodes: 2 }), [
      ...ROOMY.filter((u) => u.name !== 'lowPriorityCores'),
      usage('lowPriorityCores', 20, 24),
    ]);
    expect(fit.fits).toBe(false);
    expect(fit.quotas.find((q) => q.name === 'lowPriorityCores')).toMatchObject({
      needed: 8,
      left: -4,
      missing: 4,
    });
  });

  it('two resource groups per platform: 979 of 980 refuses', () => {
    const fit = admit(spec(), [
      ...ROOMY.filter((u) => u.name !== 'resourceGroups'),
      usage('resourceGroups', 979, 980),
    ]);
    expect(fit.quotas.find((q) => q.name === 'resourceGroups')).toMatchObject({ needed: 2, missing: 1 });
  });

  it('one AKS cluster against the clusters the subscription may hold in the region', () => {
    const fit = admit(spec(), [
      ...ROOMY.filter((u) => u.name !== 'managedClusters'),
      usage('managedClusters', 100, 100),
    ]);
    expect(fit.fits).toBe(false);
    expect(fit.quotas.find((q) => q.name === 'managedClusters')).toMatchObject({ needed: 1, missing: 1 });
  });

  it('a quota the region does not report is 0 of 0', () => {
    const fit = admit(
      spec({ spot: false }),
      ROOMY.filter((u) => u.name !== 'standardNCASv3_T4Family'),
    );
    expect(fit.fits).toBe(false);
  });
});

describe('PlatformService.create admission', () => {
  const caller: Caller = { objectId: 'oid-1', groups: [], roles: [ROLES.operator] };
  const config = loadConfig({
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
    KEY_VAULT_URL: 'https://kv-test.vault.azure.net',
  });

  function service(capacity: CapacityReader) {
    const registry = {
      get: vi.fn(async () => undefined),
      create: vi.fn(async (r) => r),
      list: vi.fn(async () => []),
    };
    const secrets = { set: vi.fn(async () => undefined), remove: vi.fn(async () => undefined) };
    const orchestrations: Orchestrations = {
      start: vi.fn(async () => undefined),
      get: vi.fn(async () => undefined),
      terminate: vi.fn(async () => undefined),
    };
    const platforms = new PlatformService({
      config,
      registry: registry as unknown as Registry,
      validator: createRequestValidator({ allowedLocations: ['eastus'], defaultIdleMinutes: 60 }),
      secrets,
      capacity,
      now: () => new Date('2026-01-01T00:00:00Z'),
      templates: loadTemplateSource(),
    });
    return { platforms, registry, secrets, orchestrations };
  }
  const body = { prefix: 'acme', models: ['llama3.1:8b'], huggingFaceToken: 'hf_TokenValue0123456789' };

  it('refuses a platform that does not fit with a quota refusal naming the quota and the missing amount, before any write', async () => {
    const s = service({
      usages: async () => [...ROOMY.slice(0, 1), usage('lowPriorityCores', 0, 4), ...ROOMY.slice(2)],
    });
    const refusal = await s.platforms
      .create(caller, body, s.orchestrations, { dryRun: false })
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ApiError);
    expect(refusal).toMatchObject({
      type: 'quota',
      message: expect.stringMatching(/lowPriorityCores.*8 needed.*4 missing/),
    });
    expect((refusal as ApiError).details.admissions?.[0]?.admission.fits).toBe(false);
    expect(s.registry.create).not.toHaveBeenCalled();
    expect(s.secrets.set).not.toHaveBeenCalled();
    expect(s.orchestrations.start).not.toHaveBeenCalled();
  });

  it('admits one that fits and starts it', async () => {
    const s = service({ usages: async () => ROOMY });
    await expect(
      s.platforms.create(caller, body, s.orchestrations, { dryRun: false }),
    ).resolves.toMatchObject({
      phase: 'Pending',
    });
    expect(s.registry.create).toHaveBeenCalled();
  });

  it('a failed quota read is an unavailable refusal with Retry-After, and nothing is written', async () => {
    const s = service({ usages: () => Promise.reject(new Error('socket hang up')) });
    const refusal = await s.platforms
      .create(caller, body, s.orchestrations, { dryRun: false })
      .catch((e: unknown) => e);
    expect(refusal).toMatchObject({ type: 'unavailable', details: { retryAfterSeconds: 10 } });
    expect(s.registry.create).not.toHaveBeenCalled();
    expect(s.secrets.set).not.toHaveBeenCalled();
  });
});
