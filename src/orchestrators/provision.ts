/**
 * provisionPlatform: resource group → secrets → the API's role → every Azure resource of the table in parallel (PostgreSQL
 * followed by its settings and database) → the PostgreSQL firewall (which needs the cluster's egress IPs)
 * → file shares → the in-cluster platform. The API's Kubernetes role is granted before the resources and
 * waited for (in effect on the cluster) before the in-cluster half. Every step is idempotent, so a retry (POST /platforms/{id}/retry,
 * or the same POST again) runs the same flow and skips what already exists.
 */
import * as df from 'durable-functions';
import type { PlatformRef, PostgresChild, ResourceState, Result } from '../activities/contract.js';
import {
  AZURE_RESOURCE_NAMES,
  AZURE_RESOURCES,
  firewallRules,
  POSTGRES_CONFIGURATION,
  type AzureResourceKind,
  type AzureResourceName,
  type FollowUpStep,
} from '../platform/azure-resources.js';
import { OPENWEBUI_DATABASE } from '../platform/naming.js';
import type { StepName } from '../platform/steps.js';
import { configurePlatform, gate, spotHint } from './configure.js';
import {
  all,
  call,
  callUntilAnswered,
  child,
  ensureResource,
  Progress,
  type Context,
  type Flow,
  type StepClock,
} from './flow.js';
import {
  azureResourceInstanceId,
  ENSURE_AZURE_RESOURCE,
  ORCHESTRATORS,
  type LifecycleInput,
} from './names.js';

interface EnsureResourceInput extends PlatformRef {
  kind: AzureResourceName;
}

/** What a resource's sub-orchestration reports: its result and, on failure, the step that failed. */
interface EnsuredResource {
  step: StepName;
  result: Result<ResourceState>;
}

/** Steps that follow a resource in its own sub-orchestration, once it exists (one flow for each). */
const FOLLOW_UPS: Record<
  FollowUpStep,
  (
    context: Context,
    step: StepClock,
    platformId: string,
    resource: ResourceState,
  ) => Flow<Result<ResourceState>>
> = {
  // The server's parameters and the database need the server only: they are written while AKS is still being
  // created. The firewall waits for the cluster's egress IPs.
  postgresSettings: (context, step, platformId) =>
    writePostgresChildren(context, step, platformId, serverChildren()),
  // The cluster's auto-upgrades in the operator's window: one synchronous write of a child of the cluster.
  aksMaintenanceWindow: (context, step, platformId, cluster) =>
    callUntilAnswered(context, step, 'ensureAksMaintenanceWindow', {
      platformId,
      ...(cluster.mutated ? { clusterWritten: true } : {}),
    }),
};

/** One Azure resource of the table, created (or found) and followed until Azure is done with it. */
function* ensureAzureResource(context: Context): Flow<EnsuredResource> {
  const { platformId, kind } = context.df.getInput<EnsureResourceInput>();
  const resource: AzureResourceKind = AZURE_RESOURCES[kind];
  const progress = new Progress(context, platformId, 'Provisioning');
  const result = yield* progress.attempt(kind, (step) =>
    ensureResource(context, step, 'beginAzureResource', { platformId, kind }),
  );
  const then = resource.then;
  if (!result.ok || !then) return { step: kind, result };
  return {
    step: then,
    result: yield* progress.attempt(then, (step) =>
      FOLLOW_UPS[then](context, step, platformId, result.value),
    ),
  };
}

function* provisionPlatform(context: Context): Flow<{ platformId: string; phase: string }> {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const ref = { platformId };
  const spec = yield* call(context, 'getPlatformSpec', ref);
  const progress = new Progress(context, platformId, 'Provisioning');
  yield* progress.setPhase('Provisioning');

  yield* progress.run('resourceGroup', (step) =>
    callUntilAnswered(context, step, 'ensureResourceGroup', ref),
  );
  yield* progress.run('secrets', (step) => callUntilAnswered(context, step, 'ensurePlatformSecrets', ref));
  // The API's identity gets its Kubernetes role (the cluster has no local accounts) on the resource group that
  // will hold the cluster: granted before the cluster is created, it propagates to Azure RBAC during the
  // creation (up to about five minutes), and clusterAccessReady below finds it in effect instead of waiting.
  yield* progress.run('clusterAccess', (step) =>
    callUntilAnswered(context, step, 'ensureClusterAccess', ref),
  );

  // Every resource in parallel, as sub-orchestrations (each with its own durable poll loop). A durable task is
  // scheduled only when yielded, so all go into one Task.all: storage (≈ 30 s) ends long before AKS (≈ 9 min),
  // so the firewall, which needs the cluster's egress IP, waits for nothing else.
  const ensured = yield* all(
    context,
    AZURE_RESOURCE_NAMES.map((kind) =>
      child<EnsuredResource>(
        context,
        ENSURE_AZURE_RESOURCE,
        { platformId, kind } satisfies EnsureResourceInput,
        azureResourceInstanceId(platformId, kind),
      ),
    ),
  );
  // Failures are reported in the table's order: the cluster's (with the spot hint) before the others.
  for (const { step, result } of ensured) {
    if (!result.ok)
      yield* progress.fail(step, result, step === 'aksCluster' ? spotHint(spec)(result) : undefined);
  }

  yield* progress.run('postgresFirewall', (step) => configureFirewall(context, step, platformId));
  yield* progress.run('fileShares', (step) => callUntilAnswered(context, step, 'ensureFileShares', ref));
  yield* gate(context, progress, platformId, 'clusterAccessReady');

  // The in-cluster half: manifests, database setup, readiness, first model and smoke test, then the rest.
  yield* configurePlatform(context, spec, progress);
  return { platformId, phase: 'Ready' };
}

/** The server's parameters (the extension allow-list, written once as the full list) and the database. */
function serverChildren(): PostgresChild[] {
  return [
    ...POSTGRES_CONFIGURATION.map((c) => ({ kind: 'configuration' as const, ...c })),
    { kind: 'database', name: OPENWEBUI_DATABASE },
  ];
}

/** The firewall admits the cluster's egress IPs only. */
function* configureFirewall(
  context: Context,
  step: StepClock,
  platformId: string,
): Flow<Result<ResourceState>> {
  const ips = yield* callUntilAnswered(context, step, 'getAksOutboundIps', { platformId });
  if (!ips.ok) return ips;
  const rules = firewallRules(ips.value.ips).map((r) => ({ kind: 'firewallRule' as const, ...r }));
  return yield* writePostgresChildren(context, step, platformId, rules);
}

/** One write at a time: Azure answers ServerIsBusy to overlapping writes on one server. */
export function* writePostgresChildren(
  context: Context,
  step: StepClock,
  platformId: string,
  children: PostgresChild[],
): Flow<Result<ResourceState>> {
  let mutated = false;
  for (const postgresChild of children) {
    const result = yield* ensureResource(context, step, 'ensurePostgresChild', {
      platformId,
      child: postgresChild,
    });
    if (!result.ok) return result;
    mutated ||= result.value.mutated;
  }
  return { ok: true, value: { provisioningState: 'Succeeded', mutated } };
}

df.app.orchestration(ENSURE_AZURE_RESOURCE, ensureAzureResource);
df.app.orchestration(ORCHESTRATORS.provision, provisionPlatform);
