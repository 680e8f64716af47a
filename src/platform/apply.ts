/**
 * What the apply step sends, and in which order, decided without a cluster: the rendered objects with the
 * Secrets in front of them, cut into stages at each Job that must complete first, each Job marked with the
 * hash of its spec. The activity only reads the secret values and talks to the API server.
 */
import { createHash } from 'node:crypto';
import { WAIT_FOR_COMPLETION, renderManifests, type TemplateSource } from './manifests.js';
import type { PlatformNames } from './naming.js';
import { buildSecrets, type SecretMaterial } from './secrets.js';
import type { KubernetesObject } from './templates.js';
import type { ApplyStage } from './steps.js';
import type { PlatformSpec } from './types.js';

/** The fields the apply order reads: the API client's object type and ours both have them. */
interface Applicable {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
}

/**
 * A Job's pod template is immutable, so a Job whose rendered spec changed (the preload Job after a models
 * change) is deleted and created again: the hash of the rendered spec, kept in this annotation, says when.
 */
export const SPEC_HASH = 'llm-platforms-api/spec-hash';

export function withSpecHash<T extends Applicable>(object: T): T {
  if (object.kind !== 'Job') return object;
  const hash = createHash('sha256')
    .update(JSON.stringify((object as { spec?: unknown }).spec ?? null))
    .digest('hex')
    .slice(0, 16);
  return {
    ...object,
    metadata: { ...object.metadata, annotations: { ...object.metadata?.annotations, [SPEC_HASH]: hash } },
  };
}

/** The annotation that names the apply stage a wait-for-completion Job ends. */
export const APPLY_STAGE = 'llm-platforms-api/apply-stage';
/** The stage after the last Job. */
const LAST_STAGE: ApplyStage = 'workloads';

export interface StageObjects<T> {
  /** The ending Job's `llm-platforms-api/apply-stage`; the stage after the last Job is `workloads`. */
  stage: string;
  objects: T[];
  waitFor?: { namespace: string; name: string };
}

/**
 * The apply order cut into stages: each stage ends with a Job that must complete before anything after it
 * is applied (the database role before the migration, the migration before Open WebUI serves). A stage is
 * named by the Job that ends it; the step catalogue's APPLY_STAGES lists the same names in the same order
 * (a test keeps them equal).
 */
export function applyStages<T extends Applicable>(objects: readonly T[]): StageObjects<T>[] {
  const stages: StageObjects<T>[] = [{ stage: LAST_STAGE, objects: [] }];
  for (const object of objects) {
    const current = stages[stages.length - 1]!;
    current.objects.push(object);
    if (object.kind === 'Job' && object.metadata?.annotations?.[WAIT_FOR_COMPLETION] === 'true') {
      current.stage = object.metadata.annotations[APPLY_STAGE] ?? '';
      current.waitFor = {
        namespace: object.metadata.namespace ?? 'default',
        name: object.metadata.name ?? '',
      };
      stages.push({ stage: LAST_STAGE, objects: [] });
    }
  }
  return stages.filter((s) => s.objects.length > 0);
}

/**
 * Namespaces first, then the Secrets (built from the values read from Key Vault, never rendered), then the
 * rendered objects in their apply order.
 */
export function platformApplyObjects(
  spec: PlatformSpec,
  names: PlatformNames,
  material: SecretMaterial,
  templates: TemplateSource,
  gpuReleased = false,
): KubernetesObject[] {
  const rendered = renderManifests(spec, names, templates, {
    ...(spec.webui.adminEmail ? { adminEmail: spec.webui.adminEmail } : {}),
    gpuReleased,
  });
  const namespaces = rendered.filter((o) => o.kind === 'Namespace');
  return [...namespaces, ...buildSecrets(names, material), ...rendered.filter((o) => o.kind !== 'Namespace')];
}
