/** The step catalogue is the one source of step names, order and deadlines: the docs must say the same. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AZURE_RESOURCE_NAMES, AZURE_RESOURCES } from '../../src/platform/azure-resources.js';
import {
  APPLY_STAGES,
  PROVISION_ORDER,
  STEPS,
  stepDeadlineMs,
  type StepName,
} from '../../src/platform/steps.js';
import { POLL } from '../../src/platform/polling.js';

describe('the step catalogue', () => {
  it("ARCHITECTURE.md's provisioning order is PROVISION_ORDER", () => {
    const doc = readFileSync(new URL('../../ARCHITECTURE.md', import.meta.url), 'utf8');
    const block = doc.split('<!-- provision-order -->')[1]?.split('```')[1]?.trim();
    expect(block).toBe(PROVISION_ORDER.map((row) => row.join(' ‖ ')).join(' → '));
  });

  it('provisioning runs each step once', () => {
    const steps = PROVISION_ORDER.flat();
    expect(new Set(steps).size).toBe(steps.length);
  });

  it('every resource of the table is created by a step of its name, all in one parallel row', () => {
    const row = PROVISION_ORDER.find((r) => r.includes('aksCluster'))!;
    expect(row).toEqual(AZURE_RESOURCE_NAMES);
    for (const kind of AZURE_RESOURCE_NAMES) expect(STEPS[kind].poll).toBe(AZURE_RESOURCES[kind].poll);
  });

  it('apply stages wait for their Job in a step of their own, right after the apply', () => {
    const order = PROVISION_ORDER.flat();
    for (const stage of APPLY_STAGES) {
      const at = order.indexOf(stage.apply);
      expect(at).toBeGreaterThan(-1);
      if ('job' in stage) expect(order[at + 1]).toBe(stage.job);
    }
  });

  it("a step's deadline is its policy's; a name the catalogue does not know gets the Kubernetes one", () => {
    for (const name of Object.keys(STEPS) as StepName[])
      expect(stepDeadlineMs(name)).toBe(POLL[STEPS[name].poll].deadlineMs);
    expect(stepDeadlineMs('kubernetesApply2')).toBe(POLL.kubernetes.deadlineMs);
  });
});
