/**
 * Kubernetes-side activities: apply the platform's manifests with server-side apply, read readiness, read
 * the models Ollama holds, and a smoke test through the API server's service proxy. Every request carries
 * an Entra ID token for AKS's server application (the cluster has no local accounts); the API server's
 * address and CA come from the cluster's user kubeconfig, which on an Entra ID cluster holds no secret.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AzureClientPool } from '../azure/clients.js';
import { classifyAzureError } from '../azure/errors.js';
import { KubeConfig } from '@kubernetes/client-node';
import { clusterAgent, kubeStatus, type ClusterConnection, type KubeClients } from '../kube/client.js';
import { ClusterConnectionCache, type KeptCluster } from '../kube/connections.js';
import type { TokenSource } from '../kube/token.js';
import { apiServerUnreachable, classifyKube, unreachableApiServer } from '../kube/errors.js';
import { applyStages, platformApplyObjects, SPEC_HASH, withSpecHash } from '../platform/apply.js';
import { canonicalModel } from '../platform/catalog.js';
import {
  HTTPS_ENTRY,
  ON_DEMAND,
  renderManifestFile,
  renderOnDemand,
  WAIT_FOR_COMPLETION,
  type TemplateSource,
} from '../platform/manifests.js';
import { publicEndpoints, publicHost } from '../platform/naming.js';
import type { PlatformRecord } from '../platform/types.js';
import { requireRecord, type Registry } from '../registry/registry.js';
import type { ActivityHandlers, JobRef, Readiness, ReadinessCheck, Result } from './contract.js';

export const OLLAMA = { namespace: 'llm', service: 'ollama', port: 11434 } as const;
const OPEN_WEBUI = { namespace: 'llm', deployment: 'open-webui' } as const;
const OLLAMA_STATEFULSET = 'ollama';
/** The fields of a KEDA ScaledObject the readiness check reads. */
interface ScaledObject extends KubernetesObject {
  spec?: {
    scaleTargetRef?: { kind?: string; name?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
  };
}
const SCALED_OBJECTS = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' } as const;

/** KEDA's ScaledObject is the one owner of Ollama's replica count (KEDA writes it, through its HPA above one). */
const OLLAMA_SCALER = { kind: 'ScaledObject', name: 'ollama', file: '80-autoscaling.yaml' } as const;

/**
 * A bound claim and its static Azure Files volume are not re-applied: Kubernetes forbids changing a
 * volume's source, and a claim can grow only through an expandable storage class. For a static Azure Files
 * volume the capacity is a label; the share's quota in Azure is the real limit (ensureFileShares grows it).
 */
const CREATE_ONLY_KINDS = new Set(['PersistentVolume', 'PersistentVolumeClaim']);

export interface KubernetesActivityDeps {
  /** The cluster's kubeconfig and storage key are read in the platform's subscription (its record's). */
  clients: AzureClientPool;
  registry: Registry;
  kube: (connection: ClusterConnection) => KubeClients;
  /** Entra ID tokens for AKS's server application, from the credential the Azure clients use. */
  tokens: TokenSource;
  now: () => Date;
  templates: TemplateSource;
}

/**
 * Clusters a worker keeps connections to (ClusterConnectionCache). A subscription holds at most 490
 * platforms (two resource groups each of 980, azure-real-behaviours §3.3), so one worker keeps every
 * cluster it serves; the bound is there for a sweep over a larger fleet (bench:sweep), where a least
 * recently used entry goes first.
 */
export const KEPT_CLUSTERS = 10_000;

/** The objects to apply (`platformApplyObjects`), with the secret values read from Key Vault and Azure. */
export async function platformObjects(
  record: PlatformRecord,
  secretValue: (name: string) => Promise<string>,
  storageKey: () => Promise<string>,
  templates: TemplateSource,
): Promise<KubernetesObject[]> {
  const s = record.names.secrets;
  const material = {
    postgresAdminPassword: await secretValue(s['postgres-admin-password']),
    openWebuiDbPassword: await secretValue(s['openwebui-db-password']),
    webuiSecretKey: await secretValue(s['openwebui-secret-key']),
    webuiAdminPassword: await secretValue(s['openwebui-admin-password']),
    grafanaAdminPassword: await secretValue(s['grafana-admin-password']),
    storageAccountKey: await storageKey(),
  };
  return platformApplyObjects(
    record.spec,
    record.names,
    material,
    templates,
    record.gpu?.state === 'released',
  );
}

/**
 * Ollama's one ScaledObject (manifests/80-autoscaling.yaml), rendered for the platform with the GPU tier
 * released or not. Applied whole by the same field manager as every manifest, so a later apply (a PATCH, a
 * retry) neither conflicts with it nor loses a field; no secret is needed to render it.
 */
function ollamaScaler(
  record: PlatformRecord,
  templates: TemplateSource,
  gpuReleased: boolean,
): KubernetesObject {
  // Its file alone: rendering every template (twice, for the quota) cost a release or wake ~100 ms of CPU.
  const scaler = renderManifestFile(record.spec, record.names, templates, OLLAMA_SCALER.file, {
    ...(record.spec.webui.adminEmail ? { adminEmail: record.spec.webui.adminEmail } : {}),
    gpuReleased,
  }).find((o) => o.kind === OLLAMA_SCALER.kind && o.metadata.name === OLLAMA_SCALER.name);
  if (!scaler) throw new Error(`the manifests render no ${OLLAMA_SCALER.kind} ${OLLAMA_SCALER.name}`);
  return scaler;
}

type KubernetesActivity =
  | 'applyPlatformManifests'
  | 'checkPlatformReadiness'
  | 'getModelReport'
  | 'deleteOllamaModels'
  | 'stopOpenWebui'
  | 'startOpenWebui'
  | 'startWebuiDataWipe'
  | 'releaseGpuTier'
  | 'startOllama'
  | 'probeOllama'
  | 'probeGpuTier'
  | 'runSmokeTest';

export function createKubernetesActivities(
  deps: KubernetesActivityDeps,
): ActivityHandlers<KubernetesActivity> {
  const connections = new ClusterConnectionCache<KubeClients>(KEPT_CLUSTERS);

  const load = (platformId: string) => requireRecord(deps.registry, platformId);

  /**
   * The platform's cluster: its server and CA from listClusterUserCredential (on an Entra ID cluster that
   * kubeconfig's user is an exec plugin, kubelogin, which is not used: the token comes from our own
   * credential, read at each request), and clients on a keep-alive agent trusting that CA.
   */
  const openCluster = async (record: PlatformRecord): Promise<KeptCluster<KubeClients>> => {
    const result = await deps.clients
      .of(record)
      .aks.managedClusters.listClusterUserCredentials(record.names.resourceGroup, record.names.aksCluster);
    const value = result.kubeconfigs?.[0]?.value;
    if (!value) throw new Error('AKS returned no user kubeconfig');
    const kc = new KubeConfig();
    kc.loadFromString(new TextDecoder().decode(value));
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the user kubeconfig AKS returned names no cluster');
    const agent = clusterAgent(cluster.caData);
    const endpoint = { server: cluster.server, ...(cluster.caData ? { caData: cluster.caData } : {}) };
    return {
      ...endpoint,
      agent,
      clients: deps.kube({
        name: record.names.aksCluster,
        ...endpoint,
        agent,
        token: () => deps.tokens.token(),
      }),
    };
  };

  /**
   * Runs `fn` against the cluster; Kubernetes and Azure failures become typed results. A kept entry the
   * cluster refuses (no connection, a certificate that no longer verifies, a 401) is dropped and `fn` runs
   * once more on a fresh one; every activity here is idempotent, so the second run repeats no effect.
   */
  const withCluster = async <T>(
    platformId: string,
    fn: (kube: KubeClients, record: PlatformRecord) => Promise<Result<T>>,
  ): Promise<Result<T>> => {
    let record: PlatformRecord | undefined;
    try {
      record = await load(platformId);
      const key = `${record.names.resourceGroup}/${record.names.aksCluster}`.toLowerCase();
      for (;;) {
        const { entry, fresh } = await connections.get(key, () => openCluster(record!));
        try {
          return await fn(entry.clients, record);
        } catch (e) {
          const refusedToken = kubeStatus(e)?.code === 401;
          if (!refusedToken && !unreachableApiServer(e)) throw e;
          connections.drop(key, entry);
          if (refusedToken) deps.tokens.drop();
          if (fresh) throw e;
        }
      }
    } catch (e) {
      const status = kubeStatus(e);
      if (status) return classifyKube(status);
      const unreachable = unreachableApiServer(e);
      if (unreachable && record)
        return apiServerUnreachable(record.names.aksCluster, unreachable, await aksPower(record));
      return classifyAzureError(e);
    }
  };

  /** AKS's power state of the platform's cluster, to tell a stopped cluster from a network fault. */
  const aksPower = async (record: PlatformRecord): Promise<string | undefined> =>
    deps.clients
      .of(record)
      .aks.managedClusters.get(record.names.resourceGroup, record.names.aksCluster)
      .then(
        (cluster) => cluster.powerState?.code,
        () => undefined,
      );

  return {
    async applyPlatformManifests({ platformId, stage, rerunJobs = false }) {
      return withCluster(platformId, async (kube, record) => {
        const { names } = record;
        const secretValue = async (name: string) =>
          (await deps.clients.default.secrets.getSecret(name)).value ?? '';
        const storageKey = async () => {
          const keys = await deps.clients
            .of(record)
            .storage.storageAccounts.listKeys(names.resourceGroup, names.storageAccount);
          return keys.keys?.[0]?.value ?? '';
        };
        const stages = applyStages(await platformObjects(record, secretValue, storageKey, deps.templates));
        const current = stages.find((s) => s.stage === stage);
        // A stage the manifests do not have can never be applied: refused at once, never retried.
        if (!current)
          return {
            ok: false,
            kind: 'invalid',
            code: 'UnknownApplyStage',
            message: `The rendered manifests have no apply stage '${stage}'.`,
          };
        // In order: namespaces before what lives in them; one at a time keeps conflicts attributable.
        for (const object of current.objects) {
          const waited = object.metadata?.annotations?.[WAIT_FOR_COMPLETION] === 'true';
          await applyOne(kube, withSpecHash(object), rerunJobs && waited);
        }
        return {
          ok: true,
          value: {
            applied: current.objects.length,
            ...(current.waitFor ? { waitFor: current.waitFor } : {}),
          },
        };
      });
    },

    async checkPlatformReadiness({ platformId, check, job }) {
      return withCluster(platformId, (kube, record) => readiness(kube, record, check, job));
    },

    async getModelReport({ platformId }) {
      return withCluster(platformId, async (kube, record) => {
        const tags = (await kube.proxyGet(OLLAMA.namespace, OLLAMA.service, OLLAMA.port, 'api/tags')) as {
          models?: { name?: string; model?: string }[];
        };
        const present = new Set(
          (tags.models ?? [])
            .flatMap((m) => [m.name, m.model])
            .filter((n): n is string => !!n)
            .map(canonicalModel),
        );
        const job = await kube.batch
          .readNamespacedJob({ name: 'model-preload', namespace: OLLAMA.namespace })
          .catch(() => undefined);
        const finished = !!job?.status?.conditions?.some(
          (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
        );
        const ready = record.spec.models.filter((m) => present.has(canonicalModel(m)));
        return {
          ok: true,
          value: {
            ready,
            failed: finished ? record.spec.models.filter((m) => !present.has(canonicalModel(m))) : [],
            preloadFinished: finished,
          },
        };
      });
    },

    /** Removes models from Ollama (and so from the shared volume); one already gone counts as removed. */
    async deleteOllamaModels({ platformId, models }) {
      return withCluster(platformId, async (kube) => {
        const deleted: string[] = [];
        for (const model of models) {
          try {
            await kube.proxyDelete(OLLAMA.namespace, OLLAMA.service, OLLAMA.port, 'api/delete', { model });
            deleted.push(model);
          } catch (e) {
            if (kubeStatus(e)?.code !== 404) throw e;
          }
        }
        return { ok: true, value: { deleted } };
      });
    },

    /**
     * Scales Open WebUI to zero through the scale subresource. Its HPA owns the replica count (the manifest
     * leaves it out), so an apply of replicas 0 would be a conflict; and a target at zero replicas switches
     * its HPA off until it is scaled up again (Kubernetes' HPA documentation, "Implicit maintenance-mode
     * deactivation"), so nothing brings Open WebUI back while its database is re-created.
     */
    async stopOpenWebui({ platformId }) {
      return withCluster(platformId, async (kube) => {
        const replicas = await kube.scaleDeployment(OPEN_WEBUI.namespace, OPEN_WEBUI.deployment, 0);
        return { ok: true, value: { replicas } };
      });
    },

    /**
     * Scales a stopped Open WebUI back to its HPA's minimum (the requested replicas,
     * manifests/80-autoscaling.yaml), which switches the HPA on again; a running one is its HPA's to size.
     */
    async startOpenWebui({ platformId }) {
      return withCluster(platformId, async (kube, record) => {
        const scale = await kube.apps.readNamespacedDeploymentScale({
          name: OPEN_WEBUI.deployment,
          namespace: OPEN_WEBUI.namespace,
        });
        const current = scale.spec?.replicas ?? 0;
        if (current > 0) return { ok: true, value: { replicas: current } };
        const replicas = await kube.scaleDeployment(
          OPEN_WEBUI.namespace,
          OPEN_WEBUI.deployment,
          record.spec.webui.replicas,
        );
        return { ok: true, value: { replicas } };
      });
    },

    /**
     * Lets KEDA take Ollama to zero: the ScaledObject's minReplicaCount becomes 0, and with no trigger active
     * (no chat held or in flight at the interceptor, no GPU memory in use: the sweep found the platform idle)
     * KEDA scales the StatefulSet to zero at its next poll; the cluster autoscaler then deallocates the
     * unneeded GPU node after scale-down-unneeded-time (the pool's scale-down mode). Replicas are never
     * written here: KEDA is their one writer, and a chat held at the interceptor wakes the tier by itself
     * (KEDA activates 0 → 1, azure-real-behaviours §2.3). Recorded first, and only while the platform is
     * Ready with its GPU running: a flow that started meanwhile (a stop, a PATCH, a wipe) never finds the
     * ScaledObject at zero without the record saying so (its apply renders the record); a write that fails
     * takes the record back.
     */
    async releaseGpuTier({ platformId }) {
      return withCluster(platformId, async (kube, record) => {
        const since = deps.now().toISOString();
        const recorded = await deps.registry.update(platformId, (r) =>
          r.phase === 'Ready' && !r.gpu ? { ...r, gpu: { state: 'released', since } } : undefined,
        );
        if (recorded.gpu?.since !== since)
          return {
            ok: false,
            kind: 'conflict',
            code: 'NotReady',
            message: `Platform '${platformId}' is ${recorded.phase}${recorded.gpu ? ` with its GPU tier ${recorded.gpu.state}` : ''}: its GPU tier is left as it is.`,
          };
        try {
          await kube.apply(ollamaScaler(record, deps.templates, true));
          return { ok: true, value: { replicas: 0 } };
        } catch (e) {
          await deps.registry.update(platformId, ({ gpu, ...r }) => (gpu?.since === since ? r : undefined));
          throw e;
        }
      });
    },

    /**
     * Ollama kept at one replica at least again (minReplicaCount 1): KEDA brings it back from zero at its
     * next poll; a running one stays KEDA's to size. Idempotent: the same object applied again changes nothing.
     */
    async startOllama({ platformId }) {
      return withCluster(platformId, async (kube, record) => {
        await kube.apply(ollamaScaler(record, deps.templates, false));
        return { ok: true, value: { replicas: 1 } };
      });
    },

    async startWebuiDataWipe({ platformId }) {
      return withCluster(platformId, async (kube) => {
        const [job] = renderOnDemand(ON_DEMAND.webuiDataWipe, deps.templates) as KubernetesObject[];
        const ref = { namespace: job!.metadata?.namespace ?? 'default', name: job!.metadata?.name ?? '' };
        // Each wipe runs it anew: an earlier run (kept an hour by its TTL) is replaced.
        await applyOne(kube, withSpecHash(job!), true);
        return { ok: true, value: ref };
      });
    },

    /** Models loaded in Ollama's memory: non-empty means someone used the platform within its keep-alive. */
    async probeOllama({ platformId }) {
      return withCluster(platformId, async (kube) => {
        const ps = (await kube.proxyGet(OLLAMA.namespace, OLLAMA.service, OLLAMA.port, 'api/ps')) as {
          models?: unknown[];
        };
        return { ok: true, value: { loadedModels: ps.models?.length ?? 0 } };
      });
    },

    /** Read only: KEDA's count, through the scale subresource (no proxy: Ollama may have no pod at all). */
    async probeGpuTier({ platformId }) {
      return withCluster(platformId, async (kube) => {
        const scale = await kube.apps.readNamespacedStatefulSetScale({
          name: OLLAMA_STATEFULSET,
          namespace: OLLAMA.namespace,
        });
        return { ok: true, value: { ollamaReplicas: scale.spec?.replicas ?? 0 } };
      });
    },

    async runSmokeTest({ platformId, model }) {
      return withCluster(platformId, async (kube) => {
        const generated = (await kube.proxyPost(
          OLLAMA.namespace,
          OLLAMA.service,
          OLLAMA.port,
          'api/generate',
          {
            model,
            prompt: 'Reply with one word: ready',
            stream: false,
            options: { num_predict: 8 },
          },
        )) as { eval_count?: number; eval_duration?: number };
        const ps = (await kube.proxyGet(OLLAMA.namespace, OLLAMA.service, OLLAMA.port, 'api/ps')) as {
          models?: { name?: string; model?: string; size_vram?: number }[];
        };
        const loaded = (ps.models ?? []).find(
          (m) => canonicalModel(m.name ?? m.model ?? '') === canonicalModel(model),
        );
        const seconds = (generated.eval_duration ?? 0) / 1e9;
        return {
          ok: true,
          value: {
            model,
            tokensPerSecond: seconds > 0 ? Math.round(((generated.eval_count ?? 0) / seconds) * 10) / 10 : 0,
            onGpu: (loaded?.size_vram ?? 0) > 0,
          },
        };
      });
    },
  };
}

/**
 * Server-side apply of one object. A Job is replaced when its rendered spec changed, or when asked to run
 * again (`replaceJob`); claims and volumes are created once (see CREATE_ONLY_KINDS).
 */
async function applyOne(kube: KubeClients, object: KubernetesObject, replaceJob = false): Promise<void> {
  const { name = '', namespace } = object.metadata ?? {};
  if (CREATE_ONLY_KINDS.has(object.kind ?? '')) {
    const exists = await kube.objects
      .read({
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: { name, ...(namespace ? { namespace } : {}) },
      })
      .then(
        () => true,
        (e: unknown) => {
          if (kubeStatus(e)?.code === 404) return false;
          throw e;
        },
      );
    if (exists) return;
  }
  if (object.kind === 'Job') {
    const live = await kube.batch
      .readNamespacedJob({ name, namespace: namespace ?? 'default' })
      .catch((e: unknown) => {
        if (kubeStatus(e)?.code === 404) return undefined;
        throw e;
      });
    const wanted = object.metadata?.annotations?.[SPEC_HASH];
    if (live && (replaceJob || live.metadata?.annotations?.[SPEC_HASH] !== wanted)) {
      // Background propagation removes the Job at once (its pods follow), so the name is free again.
      await kube.batch.deleteNamespacedJob({
        name,
        namespace: namespace ?? 'default',
        propagationPolicy: 'Background',
      });
    }
  }
  await kube.apply(object);
}

/**
 * How long the autoscaler must have reported a pending GPU pod's pool in backoff after a failed scale-up
 * before the wait gives up. A refused scale-up (spot capacity, vCPU quota) puts the pool in backoff for 5 min
 * (cluster-autoscaler FAQ), and AKS shows the cause only in the autoscaler's status, not on the pod
 * (MicrosoftDocs/azure-aks-docs articles/aks/cluster-autoscaler.md). 3 min of backoff, reported on every
 * 10-s scan, means an attempt failed and nothing is on its way; waiting for the retry at the end of the
 * backoff would double the wait for a refusal that seldom clears so fast. `POST /retry` tries again.
 */
export const GPU_SCALE_UP_REFUSED_MS = 3 * 60_000;
const BACKOFF = /in backoff after failed scale-up/;

/**
 * What the autoscaler last said about a pending pod that asks for a GPU (its NotTriggerScaleUp /
 * TriggeredScaleUp events), and for how long it has reported the backoff of a failed scale-up.
 */
async function gpuScaleUp(kube: KubeClients): Promise<{ pod?: string; message?: string; refused?: number }> {
  const pending = (
    await kube.core.listNamespacedPod({ namespace: OLLAMA.namespace, fieldSelector: 'status.phase=Pending' })
  ).items.filter((p) =>
    (p.spec?.containers ?? []).some(
      (c) => c.resources?.limits?.['nvidia.com/gpu'] ?? c.resources?.requests?.['nvidia.com/gpu'],
    ),
  );
  if (pending.length === 0) return {};
  const names = new Set(pending.map((p) => p.metadata?.name));
  const events = (await kube.core.listNamespacedEvent({ namespace: OLLAMA.namespace })).items
    .filter(
      (e) =>
        e.involvedObject.kind === 'Pod' &&
        names.has(e.involvedObject.name) &&
        (e.reason === 'NotTriggerScaleUp' || e.reason === 'TriggeredScaleUp'),
    )
    .sort((a, b) => time(a.lastTimestamp) - time(b.lastTimestamp));
  const last = events.at(-1);
  if (!last) return {};
  const refused = BACKOFF.test(last.message ?? '') ? time(last.lastTimestamp) - time(last.firstTimestamp) : 0;
  return {
    pod: last.involvedObject.name ?? '',
    message: last.message ?? last.reason ?? '',
    ...(refused >= GPU_SCALE_UP_REFUSED_MS ? { refused } : {}),
  };
}

const time = (t: Date | string | undefined) => (t === undefined ? 0 : new Date(t).getTime());

async function readiness(
  kube: KubeClients,
  record: PlatformRecord,
  check: ReadinessCheck,
  jobRef?: JobRef,
): Promise<Result<Readiness>> {
  const ok = (ready: boolean, detail: string, endpoints?: Record<string, string>): Result<Readiness> => ({
    ok: true,
    value: { ready, detail, ...(endpoints ? { endpoints } : {}) },
  });
  switch (check) {
    case 'access': {
      // Azure RBAC for Kubernetes sees a new role assignment only once it has propagated (up to about five
      // minutes, AKS manage-azure-rbac docs): until then the API server answers 403 Forbidden.
      try {
        await kube.core.readNamespace({ name: 'kube-system' });
        return ok(true, "the API's identity is authorized on the cluster");
      } catch (e) {
        const status = kubeStatus(e);
        if (status?.code !== 403) throw e;
        return ok(false, `waiting for the role assignment to take effect (${status.message.slice(0, 300)})`);
      }
    }
    case 'nodes': {
      const nodes = (await kube.core.listNode()).items;
      const notReady = nodes.filter(
        (n) => !n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ok(
        nodes.length > 0 && notReady.length === 0,
        notReady.length
          ? `nodes not ready: ${notReady.map((n) => n.metadata?.name).join(', ')}`
          : `${nodes.length} nodes ready`,
      );
    }
    case 'gpu': {
      const nodes = (await kube.core.listNode({ labelSelector: 'gpu=true' })).items;
      const withGpu = nodes.filter((n) => Number(n.status?.capacity?.['nvidia.com/gpu'] ?? 0) > 0);
      if (withGpu.length) return ok(true, `${withGpu.length} GPU node(s) report nvidia.com/gpu`);
      if (nodes.length) return ok(false, 'GPU node up, device plugin not yet reporting nvidia.com/gpu');
      // No GPU node: the GPU pool starts at zero, the cluster autoscaler adds one for Ollama's pending pod.
      const scaling = await gpuScaleUp(kube);
      if (scaling.refused)
        return {
          ok: false,
          kind: 'quota',
          code: 'GpuScaleUpRefused',
          message: `The cluster autoscaler could not add a GPU node for ${scaling.pod} for ${Math.round(scaling.refused / 60_000)} min: ${scaling.message}`,
        };
      return ok(
        false,
        scaling.message ? `waiting for a GPU node (${scaling.message})` : 'waiting for a GPU node',
      );
    }
    case 'volumes': {
      const claims = (await kube.core.listNamespacedPersistentVolumeClaim({ namespace: OLLAMA.namespace }))
        .items;
      const pending = claims.filter((c) => c.status?.phase !== 'Bound');
      return ok(
        claims.length > 0 && pending.length === 0,
        pending.length
          ? `claims not bound: ${pending.map((c) => c.metadata?.name).join(', ')}`
          : 'all claims bound',
      );
    }
    case 'job': {
      if (!jobRef) throw new Error('the job check needs a job');
      const job = await kube.batch.readNamespacedJob({ name: jobRef.name, namespace: jobRef.namespace });
      const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed)
        return {
          ok: false,
          kind: 'invalid',
          code: failed.reason ?? 'JobFailed',
          message: `Job ${jobRef.name} failed: ${failed.message ?? ''}`.trim(),
        };
      return ok(
        !!job.status?.succeeded,
        job.status?.succeeded ? `Job ${jobRef.name} complete` : `Job ${jobRef.name} running`,
      );
    }
    case 'workloads': {
      const [deployments, statefulSets, daemonSets, autoscalers, scaledObjects] = await Promise.all([
        kube.apps.listDeploymentForAllNamespaces(),
        kube.apps.listStatefulSetForAllNamespaces(),
        kube.apps.listDaemonSetForAllNamespaces(),
        kube.autoscaling.listHorizontalPodAutoscalerForAllNamespaces(),
        // A cluster without KEDA's add-on (created before it was asked for) has no such kind: none.
        kube.custom
          .listClusterCustomObject({ ...SCALED_OBJECTS })
          .then((list) => list as { items: ScaledObject[] })
          .catch((e: unknown) => {
            if (kubeStatus(e)?.code === 404) return { items: [] as ScaledObject[] };
            throw e;
          }),
      ]);
      // An HPA's target is created with one replica (the manifest leaves replicas to the HPA) and resized by
      // it: it is ready once its count is within the HPA's bounds, and that many pods are ready. A target at
      // zero is left there by its HPA (maintenance mode), but not by a KEDA ScaledObject, which brings it to
      // its minimum at its next poll: until then it is not ready (a wake must wait for Ollama's pod).
      type Bound = [string, { min: number; max: number; atZero: boolean }];
      const bounds = new Map([
        ...autoscalers.items.map((h): Bound => [
          `${h.metadata?.namespace}/${h.spec?.scaleTargetRef.kind}/${h.spec?.scaleTargetRef.name}`,
          { min: h.spec?.minReplicas ?? 1, max: h.spec?.maxReplicas ?? Infinity, atZero: true },
        ]),
        ...scaledObjects.items.map((so): Bound => [
          `${so.metadata?.namespace}/${so.spec?.scaleTargetRef?.kind ?? 'Deployment'}/${so.spec?.scaleTargetRef?.name}`,
          {
            min: so.spec?.minReplicaCount ?? 0,
            max: so.spec?.maxReplicaCount ?? Infinity,
            atZero: false,
          },
        ]),
      ]);
      const waiting: string[] = [];
      const workloads = [
        ...deployments.items.map((d) => ({ kind: 'Deployment', d })),
        ...statefulSets.items.map((d) => ({ kind: 'StatefulSet', d })),
      ];
      for (const { kind, d } of workloads) {
        const want = d.spec?.replicas ?? 1;
        const scaler = bounds.get(`${d.metadata?.namespace}/${kind}/${d.metadata?.name}`);
        if (
          (scaler && (want > 0 || !scaler.atZero) && (want < scaler.min || want > scaler.max)) ||
          (d.status?.readyReplicas ?? 0) < want ||
          (d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)
        )
          waiting.push(`${d.metadata?.namespace}/${d.metadata?.name}`);
      }
      for (const d of daemonSets.items) {
        if ((d.status?.numberReady ?? 0) < (d.status?.desiredNumberScheduled ?? 0))
          waiting.push(`${d.metadata?.namespace}/${d.metadata?.name}`);
      }
      return ok(
        waiting.length === 0,
        waiting.length ? `not ready: ${waiting.join(', ')}` : 'all workloads ready',
      );
    }
    case 'endpoints': {
      // The HTTPS entry is the one public Service: once Azure gave its load balancer an IP, the DNS label
      // on that IP names the stable host its certificate is for, and that host is the endpoint.
      const entry = await kube.core.readNamespacedService({
        name: HTTPS_ENTRY.service,
        namespace: HTTPS_ENTRY.namespace,
      });
      const ip = entry.status?.loadBalancer?.ingress?.[0]?.ip;
      if (!ip) return ok(false, `waiting for the IP of ${HTTPS_ENTRY.service}'s load balancer`);
      const host = publicHost(record.names, record.spec.location);
      return ok(true, `${host} → ${ip}`, publicEndpoints(record.names, record.spec.location));
    }
    case 'webuiStopped': {
      const d = await kube.apps.readNamespacedDeployment({
        name: OPEN_WEBUI.deployment,
        namespace: OPEN_WEBUI.namespace,
      });
      const running = d.status?.replicas ?? 0;
      const settled = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
      return ok(
        settled && d.spec?.replicas === 0 && running === 0,
        running ? `${running} Open WebUI pod(s) still running` : 'Open WebUI stopped',
      );
    }
    case 'metricsApi': {
      const apiService = await kube.objects.read<
        KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } }
      >({
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: 'v1beta1.custom.metrics.k8s.io' },
      });
      const available = !!apiService.status?.conditions?.some(
        (c) => c.type === 'Available' && c.status === 'True',
      );
      return ok(
        available,
        available ? 'custom metrics API available' : 'custom metrics API not yet available',
      );
    }
  }
}
