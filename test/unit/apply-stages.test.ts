/**
 * The rendered manifests and the step catalogue name the apply stages independently (a Job's annotation on
 * one side, APPLY_STAGES on the other); the flows follow the catalogue and the activity looks the stage up
 * in the manifests, so the two must agree for every spec.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { applyStages } from '../../src/platform/apply.js';
import { renderManifests } from '../../src/platform/manifests.js';
import {
  APPLY_STAGES,
  PROVISION_GATES,
  START_GATES,
  STEPS,
  type StepDefinition,
  type StepName,
} from '../../src/platform/steps.js';
import { namesOf, specOf, TEMPLATES } from '../support/manifests.js';

const SPECS = {
  'one model': specOf({ models: ['llama3.1:8b'] }),
  'several models': specOf({ models: ['llama3.1:8b', 'phi3.5', 'mistral:7b', 'qwen2.5:14b'] }),
  'several Open WebUI replicas': specOf({ webui: { replicas: 6 } }),
  'one replica, on-demand GPU': specOf({ webui: { replicas: 1 }, gpu: { spot: false, minNodes: 1 } }),
};

describe('apply stages', () => {
  it.each(Object.entries(SPECS))(
    '%s: the stages found in the rendered manifests are the catalogue’s, in its order',
    (_, spec) => {
      const stages = applyStages(renderManifests(spec, namesOf(spec), TEMPLATES) as KubernetesObject[]);
      expect(stages.map((s) => s.stage)).toEqual(APPLY_STAGES.map((s) => s.stage));
      // A stage the catalogue waits on ends with the Job it waits for; the last one waits for nothing.
      expect(stages.map((s) => !!s.waitFor)).toEqual(APPLY_STAGES.map((s) => 'job' in s));
    },
  );

  it('every step the flows wait on names the readiness check it waits with', () => {
    const waited: StepName[] = [
      ...APPLY_STAGES.flatMap((s) => ('job' in s ? [s.job] : [])),
      ...PROVISION_GATES,
      ...START_GATES,
    ];
    const checkOf = (step: StepName) => (STEPS[step] as StepDefinition).check;
    expect(waited.filter((step) => !checkOf(step))).toEqual([]);
    for (const stage of APPLY_STAGES) {
      // An apply step sends and returns; the step after it waits for the stage's Job.
      expect(checkOf(stage.apply)).toBeUndefined();
      if ('job' in stage) expect(checkOf(stage.job)).toBe('job');
    }
  });
});
