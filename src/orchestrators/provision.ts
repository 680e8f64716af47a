/**
 * provisionPlatform: resource group → secrets → (AKS ‖ PostgreSQL → its settings and database ‖ storage)
 * → the PostgreSQL firewall (which needs the cluster's egress IPs) → file shares → the in-cluster platform.
 * Every step is idempotent, so a retry (POST /platforms/{id}/retry, or the same POST again) runs the same
 * flow and skips what already exists.
 */
import * as df from 'durable-functions';
import type { PlatformRef, PostgresChild, ResourceState, Result } from '../activities/contract.js';
import { firewallRules, POSTGRES_CONFIGURATION } from '../platform/azure-resources.js';
import { OPENWEBUI_DATABASE } from '../platform/naming.js';
import type { PlatformSpec } from '../platform/types.js';
import { call, callUntilAnswered, ensureResource, Progress, type Context, type Flow } from './flow.js';
import { configurePlatform } from './configure.js';
import { ORCHESTRATORS, type LifecycleInput } from './names.js';
import { POLL } from './policy.js';

/** The three long Azure creations, each followed by its own durable poll loop in a sub-orchestration. */
const RESOURCES = {
  aksCluster: { step: 'aksCluster', begin: 'beginAksClusterCreate', policy: POLL.aksCluster },
  postgresServer: { step: 'postgresServer', begin: 'beginPostgresServerCreate', policy: POLL.postgresServer },
  storageAccount: { step: 'storageAccount', begin: 'beginStorageAccountCreate', policy: POLL.storageAccount },
} as const;
type ResourceKind = keyof typeof RESOURCES;
export const ENSURE_AZURE_RESOURCE = 'ensureAzureResource';

interface EnsureResourceInput extends PlatformRef {
  resource: ResourceKind;
}

/** What a resource's sub-orchestration reports: its result and, on failure, the step that failed. */
interface EnsuredResource {
  step: string;
  result: Result<ResourceState>;
}

function* ensureAzureResource(context: Context): Flow<EnsuredResource> {
  const { platformId, resource } = context.df.getInput<EnsureResourceInput>();
  const { step, begin, policy } = RESOURCES[resource];
  const progress = new Progress(context, platformId, 'Provisioning');
  const result = yield* progress.step(step, ensureResource(context, begin, { platformId }, policy));
  if (!result.ok || resource !== 'postgresServer') return { step, result };
  // The server's parameters and the database need the server only: they are written while AKS is still
  // being created. The firewall waits for the cluster's egress IPs.
  const settings = yield* progress.step(
    'postgresSettings',
    writePostgresChildren(context, platformId, serverChildren()),
  );
  return { step: 'postgresSettings', result: settings };
}

const SPOT_HINT =
  'The spot GPU pool could not be allocated (quota or capacity); retry later, in another region, or with "gpu": { "spot": false }.';

function* provisionPlatform(context: Context): Flow<{ platformId: string; phase: string }> {
  const { platformId } = context.df.getInput<LifecycleInput>();
  const ref = { platformId };
  const spec = (yield* call(context, 'getPlatformSpec', ref)) as PlatformSpec;
  const progress = new Progress(context, platformId, 'Provisioning');
  yield* progress.setPhase('Provisioning');
  const quick = POLL.storageAccount;
  const deadline = () => context.df.currentUtcDateTime.getTime() + quick.deadlineMs;

  const rg = yield* progress.step(
    'resourceGroup',
    callUntilAnswered(context, 'ensureResourceGroup', ref, quick, deadline()),
  );
  if (!rg.ok) return yield* progress.fail('resourceGroup', rg);
  const secrets = yield* progress.step(
    'secrets',
    callUntilAnswered(context, 'ensurePlatformSecrets', ref, quick, deadline()),
  );
  if (!secrets.ok) return yield* progress.fail('secrets', secrets);

  // In parallel, as sub-orchestrations (each with its own durable poll loop).
  const sub = (resource: ResourceKind) =>
    context.df.callSubOrchestrator(
      ENSURE_AZURE_RESOURCE,
      { platformId, resource } satisfies EnsureResourceInput,
      `${platformId}:${resource}`,
    );
  // A durable task is scheduled only when yielded, so all three go into one Task.all: storage (≈ 30 s) ends
  // long before AKS (≈ 9 min), so the firewall, which needs the cluster's egress IP, waits for nothing else.
  const [aks, pg, storage] = (yield context.df.Task.all([
    sub('aksCluster'),
    sub('postgresServer'),
    sub('storageAccount'),
  ])) as EnsuredResource[];
  if (!aks!.result.ok)
    return yield* progress.fail(
      aks!.step,
      aks!.result,
      aks!.result.kind === 'quota' && spec.gpu.spot ? SPOT_HINT : undefined,
    );
  if (!pg!.result.ok) return yield* progress.fail(pg!.step, pg!.result);

  const firewall = yield* progress.step('postgresFirewall', configureFirewall(context, platformId));
  if (!firewall.ok) return yield* progress.fail('postgresFirewall', firewall);

  if (!storage!.result.ok) return yield* progress.fail(storage!.step, storage!.result);
  const shares = yield* progress.step(
    'fileShares',
    callUntilAnswered(context, 'ensureFileShares', ref, quick, deadline()),
  );
  if (!shares.ok) return yield* progress.fail('fileShares', shares);

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
function* configureFirewall(context: Context, platformId: string): Flow<Result<ResourceState>> {
  const policy = POLL.postgresChild;
  const deadline = context.df.currentUtcDateTime.getTime() + policy.deadlineMs;
  const ips = yield* callUntilAnswered(context, 'getAksOutboundIps', { platformId }, policy, deadline);
  if (!ips.ok) return ips;
  const rules = firewallRules(ips.value.ips).map((r) => ({ kind: 'firewallRule' as const, ...r }));
  return yield* writePostgresChildren(context, platformId, rules);
}

/** One write at a time: Azure answers ServerIsBusy to overlapping writes on one server. */
function* writePostgresChildren(
  context: Context,
  platformId: string,
  children: PostgresChild[],
): Flow<Result<ResourceState>> {
  const policy = POLL.postgresChild;
  let mutated = false;
  for (const child of children) {
    const result = yield* ensureResource(context, 'ensurePostgresChild', { platformId, child }, policy);
    if (!result.ok) return result;
    mutated ||= result.value.mutated;
  }
  return { ok: true, value: { provisioningState: 'Succeeded', mutated } };
}

df.app.orchestration(ENSURE_AZURE_RESOURCE, ensureAzureResource);
df.app.orchestration(ORCHESTRATORS.provision, provisionPlatform);
