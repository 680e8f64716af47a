/** A realistic, freshly requested platform record for tests; override any field. */
import { derivePlatformNames } from '../../src/platform/naming.js';
import type { PlatformRecord } from '../../src/platform/types.js';

export const TEST_SUBSCRIPTION_ID = '00000000-0000-0000-0000-000000000001';

export function makeRecord(id: string, overrides: Partial<PlatformRecord> = {}): PlatformRecord {
  const now = new Date().toISOString();
  return {
    id,
    spec: {
      prefix: id,
      models: ['llama3.1:8b'],
      location: 'westeurope',
      gpu: { vmSize: 'Standard_NC4as_T4_v3', minNodes: 0, maxNodes: 2, spot: true },
      webui: { replicas: 3 },
      autoStop: { idleMinutes: 60 },
      tags: {},
      huggingFaceToken: false,
    },
    phase: 'Pending',
    operation: 'provision',
    createdAt: now,
    updatedAt: now,
    names: derivePlatformNames(TEST_SUBSCRIPTION_ID, id),
    resourceIds: {},
    endpoints: {},
    steps: [],
    models: {},
    ...overrides,
  };
}
