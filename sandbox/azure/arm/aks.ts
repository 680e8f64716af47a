/**
 * Microsoft.ContainerService/managedClusters (AKS): PUT as an LRO announced with Azure-AsyncOperation
 * (201 on create, 200 on update), stop/start/delete as LROs with Azure-AsyncOperation + Location, admin
 * credentials, and agent pools derived from the cluster's agentPoolProfiles. The node resource group and
 * the load balancer's outbound public IP are created the way AKS does, so the outbound IP can be read
 * through its Microsoft.Network id.
 */
import { stringify } from 'yaml';
import { AKS_SERVER_APP_ID } from '../entra.js';
import { byMethod, type ProviderRequest, type RequestContext, type Route } from './route.js';
import { assertGroupWritable, ensureResourceGroup } from './resource-groups.js';
import {
  ArmError,
  fakeGuid,
  notFound,
  obj,
  requireLocation,
  sameJson,
  sha256,
  tagsOf,
  type LroFailure,
  type Obj,
  type Operation,
  type Reply,
  type Resource,
  type World,
} from './world.js';

export const AKS_NAMESPACE = 'Microsoft.ContainerService';
/** The casing AKS itself returns in `type`. */
export const AKS_TYPE = 'Microsoft.ContainerService/ManagedClusters';
export const PUBLIC_IP_TYPE = 'Microsoft.Network/publicIPAddresses';
const DEFAULT_KUBERNETES_VERSION = '1.33.2';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

/**
 * Whether the cluster's API server answers, and since when. A stop takes the control plane down
 * ("Stopping a cluster stops the control plane and agent nodes entirely": ManagedClusters_Stop, spec
 * 2026-04-01; start-stop-cluster.md), so it stops answering once the stop is accepted; it answers again
 * when the start has finished, with every object restored from etcd and every pod restarted.
 */
export interface ApiServerState {
  answering: boolean;
  since: number;
}

export interface Cluster extends Resource {
  /** powerState.code: AKS switches it when a stop/start is accepted, provisioningState shows progress. */
  power: 'Running' | 'Stopped';
  apiServer: ApiServerState;
  nodeResourceGroup: string;
  publicIpId?: string;
}

/** The API server of the cluster `id`, or undefined when there is no such cluster. */
export function aksApiServer(world: World, id: string): ApiServerState | undefined {
  const r = world.get(id);
  return isCluster(r) ? r.apiServer : undefined;
}

export function isCluster(r: Resource | undefined): r is Cluster {
  return r?.type === AKS_TYPE;
}

/**
 * AKS upgrading a cluster by itself (its auto-upgrade channel, or a node-image upgrade): the cluster reads
 * `Upgrading` and every write (PUT, stop, start) is refused 409 OperationNotAllowed until it ends; an
 * upgrade can outlast 20 minutes (azure-real-behaviours, F4; https://learn.microsoft.com/azure/aks/planned-maintenance).
 * Only a running cluster upgrades; the upgrade changes nothing the API's reads show besides the state.
 */
export function startAksUpgrade(world: World, id: string, durationMs: number): void {
  world.settle();
  const cluster = world.get(id);
  if (!isCluster(cluster)) throw new Error(`startAksUpgrade: no managed cluster ${id}`);
  if (cluster.power !== 'Running' || world.busy(cluster))
    throw new Error(`startAksUpgrade: ${cluster.name} is not a running, idle cluster`);
  world.start({
    kind: 'aks.upgrade',
    resource: cluster,
    label: 'Upgrading',
    durationMs,
    namespace: AKS_NAMESPACE,
    apiVersion: 'sandbox',
  });
}

function operationNotAllowed(message: string): ArmError {
  return new ArmError(409, 'OperationNotAllowed', message);
}

/** `GET /subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters`: every cluster, all regions. */
export function aksListRoute(ctx: RequestContext): Route {
  return byMethod(ctx, 'the managed clusters of a subscription', {
    GET: {
      op: 'aks.list',
      run: () => ({
        status: 200,
        body: { value: [...ctx.world.resources.values()].filter(isCluster).map((c) => c.present()) },
      }),
    },
  });
}

export function aksRoute(ctx: ProviderRequest): Route {
  const { world, rgName, name, ltail } = ctx;
  const id = `/subscriptions/${world.subscriptionId}/resourceGroups/${rgName}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  const find = (): Cluster | undefined => {
    const r = world.get(id);
    return isCluster(r) ? r : undefined;
  };
  const get = (): Cluster => {
    const cluster = find();
    if (!cluster) throw notFound('Microsoft.ContainerService/managedClusters', name, rgName);
    return cluster;
  };
  /** A stopped cluster accepts only start and delete; a busy one nothing but delete. */
  const assertMutable = (cluster: Cluster, what: string) => {
    if (world.busy(cluster))
      throw operationNotAllowed(
        `Operation is not allowed because there's an in progress ${cluster.op!.kind.replace('aks.', '')} managed cluster operation on '${cluster.name}'. Please wait for it to finish before starting a new operation.`,
      );
    if (cluster.power === 'Stopped')
      throw operationNotAllowed(
        `Operation '${what}' is not allowed: managed cluster '${cluster.name}' is in stopped state. Only start and delete are allowed on a stopped cluster.`,
      );
  };

  if (ltail.length === 0)
    return byMethod(ctx, 'a managed cluster', {
      PUT: { op: 'aks.create', lro: true, run: (failure) => put(ctx, id, find(), assertMutable, failure) },
      GET: { op: 'aks.get', run: () => ({ status: 200, body: get().present() }) },
      DELETE: {
        op: 'aks.delete',
        lro: true,
        run: (failure) => {
          const cluster = find();
          if (!cluster) return { status: 204 };
          const running = world.busy(cluster) && cluster.op!.kind === 'aks.delete' ? cluster.op! : undefined;
          const op =
            running ??
            world.start({
              kind: 'aks.delete',
              resource: cluster,
              label: 'Deleting',
              durationMs: world.durations.aksDelete,
              failure,
              namespace: AKS_NAMESPACE,
              apiVersion: ctx.apiVersion,
              onSucceeded: () => world.remove(cluster.key),
            });
          return {
            status: 202,
            headers: world.acceptedHeaders(op, { asyncOperation: true, location: true }),
          };
        },
      },
    });

  const [action, child] = ltail;
  if ((action === 'stop' || action === 'start') && ltail.length === 1)
    return byMethod(ctx, `managed cluster ${action}`, {
      POST: {
        op: action === 'stop' ? 'aks.stop' : 'aks.start',
        lro: true,
        run: (failure) => {
          const cluster = get();
          if (action === 'start' && cluster.power === 'Running' && !world.busy(cluster)) {
            // Starting a running cluster changes nothing: a completed LRO without polling.
            return { status: 200 };
          }
          if (action === 'start') {
            if (world.busy(cluster)) assertMutable(cluster, 'start');
          } else assertMutable(cluster, 'stop');
          const before = cluster.power;
          cluster.power = action === 'stop' ? 'Stopped' : 'Running';
          if (action === 'stop') cluster.apiServer = { answering: false, since: world.now() };
          const op: Operation = world.start({
            kind: `aks.${action}`,
            resource: cluster,
            label: action === 'stop' ? 'Stopping' : 'Starting',
            durationMs: action === 'stop' ? world.durations.aksStop : world.durations.aksStart,
            failure,
            namespace: AKS_NAMESPACE,
            apiVersion: ctx.apiVersion,
            onSucceeded: () => {
              if (action === 'start') cluster.apiServer = { answering: true, since: op.endsAt };
            },
            // A failed stop leaves the cluster running (its control plane comes back); a failed start stopped.
            onFailed: () => {
              cluster.power = before;
              if (action === 'stop') cluster.apiServer = { answering: true, since: op.endsAt };
            },
          });
          return {
            status: 202,
            headers: world.acceptedHeaders(op, { asyncOperation: true, location: true }),
          };
        },
      },
    });

  if (
    (action === 'listclusteradmincredential' || action === 'listclusterusercredential') &&
    ltail.length === 1
  )
    return byMethod(ctx, 'cluster credentials', {
      POST: {
        op: 'aks.listCredential',
        run: () => {
          const cluster = get();
          if (
            obj(cluster.body.properties).disableLocalAccounts === true &&
            action === 'listclusteradmincredential'
          )
            throw new ArmError(
              400,
              'BadRequest',
              'Getting static credential is not allowed because this cluster is set to disable local accounts.',
            );
          const admin = action === 'listclusteradmincredential';
          return kubeconfigFor(world, cluster, admin).then((kubeconfig) => ({
            status: 200,
            body: {
              kubeconfigs: [
                {
                  name: admin ? 'clusterAdmin' : 'clusterUser',
                  value: Buffer.from(kubeconfig).toString('base64'),
                },
              ],
            },
          }));
        },
      },
    });

  if (action === 'agentpools' && ltail.length <= 2)
    return byMethod(ctx, 'agent pools', {
      GET:
        child === undefined
          ? {
              op: 'aks.agentPools.list',
              run: () => ({ status: 200, body: { value: agentPools(world, get()) } }),
            }
          : {
              op: 'aks.agentPools.get',
              run: () => {
                const pool = agentPools(world, get()).find((p) => String(p.name).toLowerCase() === child);
                if (!pool)
                  throw notFound(
                    'Microsoft.ContainerService/managedClusters/agentPools',
                    `${name}/${ctx.tail[1]}`,
                    rgName,
                  );
                return { status: 200, body: pool };
              },
            },
    });

  if (action === 'maintenanceconfigurations' && ltail.length <= 2)
    return maintenanceRoute(ctx, get, ctx.tail[1]);

  throw new ArmError(
    404,
    'InvalidResourceType',
    `The sandbox does not simulate '${ctx.tail.join('/')}' on managed clusters.`,
  );
}

export const MAINTENANCE_TYPE = 'Microsoft.ContainerService/managedClusters/maintenanceConfigurations';
/** AKS knows these three configurations only: its weekly releases and the two auto-upgrade schedules. */
const MAINTENANCE_NAMES = ['default', 'aksManagedAutoUpgradeSchedule', 'aksManagedNodeOSUpgradeSchedule'];

/**
 * Planned maintenance (managedClusters/maintenanceConfigurations, 2026-04-01): a synchronous child of the
 * cluster, stored as sent and removed with it. The two aksManaged* schedules take a `maintenanceWindow`
 * with exactly one schedule, 4 to 24 hours long, starting at HH:mm
 * (https://learn.microsoft.com/azure/aks/planned-maintenance).
 */
function maintenanceRoute(
  ctx: ProviderRequest,
  getCluster: () => Cluster,
  childName: string | undefined,
): Route {
  const { world, rgName, name } = ctx;
  const find = (cluster: Cluster) =>
    childName === undefined ? undefined : world.get(`${cluster.id}/maintenanceConfigurations/${childName}`);
  const missing = () => notFound(MAINTENANCE_TYPE, `${name}/${childName}`, rgName);
  if (childName === undefined)
    return byMethod(ctx, 'maintenance configurations', {
      GET: {
        op: 'aks.maintenance.list',
        run: () => {
          const cluster = getCluster();
          return { status: 200, body: { value: world.children(cluster.key).map((r) => r.present()) } };
        },
      },
    });
  return byMethod(ctx, 'a maintenance configuration', {
    GET: {
      op: 'aks.maintenance.get',
      run: () => {
        const stored = find(getCluster());
        if (!stored) throw missing();
        return { status: 200, body: stored.present() };
      },
    },
    PUT: {
      op: 'aks.maintenance.put',
      run: () => {
        const cluster = getCluster();
        const canonical = MAINTENANCE_NAMES.find((n) => n.toLowerCase() === childName.toLowerCase());
        if (!canonical)
          throw new ArmError(
            400,
            'InvalidParameter',
            `Maintenance configuration name '${childName}' is invalid; use one of ${MAINTENANCE_NAMES.join(', ')}.`,
          );
        const properties = obj(ctx.body.properties);
        if (canonical !== 'default') assertMaintenanceWindow(properties.maintenanceWindow);
        const id = `${cluster.id}/maintenanceConfigurations/${canonical}`;
        const stored: Resource = {
          key: id.toLowerCase(),
          id,
          type: MAINTENANCE_TYPE,
          name: canonical,
          rg: cluster.rg,
          parent: cluster.key,
          location: cluster.location,
          tags: {},
          body: { properties },
          createdAt: find(cluster)?.createdAt ?? world.now(),
          present: () => ({
            id,
            name: canonical,
            type: MAINTENANCE_TYPE,
            properties: stored.body.properties,
          }),
        };
        world.add(stored);
        return { status: 200, body: stored.present() };
      },
    },
    DELETE: {
      op: 'aks.maintenance.delete',
      run: () => {
        const stored = find(getCluster());
        if (stored) world.remove(stored.key);
        return { status: stored ? 200 : 204 };
      },
    },
  });
}

function assertMaintenanceWindow(value: unknown): void {
  const invalid = (why: string) => new ArmError(400, 'InvalidParameter', `maintenanceWindow: ${why}.`);
  if (!value || typeof value !== 'object') throw invalid('is required for this configuration');
  const window = obj(value);
  const schedules = Object.values(obj(window.schedule)).filter((v) => v !== undefined && v !== null);
  if (schedules.length !== 1)
    throw invalid(
      "schedule must have exactly one of 'daily', 'weekly', 'absoluteMonthly', 'relativeMonthly'",
    );
  const hours = window.durationHours;
  if (typeof hours !== 'number' || !Number.isInteger(hours) || hours < 4 || hours > 24)
    throw invalid('durationHours must be an integer from 4 to 24');
  if (typeof window.startTime !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(window.startTime))
    throw invalid("startTime must be from '00:00' to '23:59'");
  if (window.utcOffset !== undefined && !/^[+-]\d{2}:\d{2}$/.test(String(window.utcOffset)))
    throw invalid("utcOffset must be '+HH:mm' or '-HH:mm'");
}

function put(
  ctx: ProviderRequest,
  id: string,
  existing: Cluster | undefined,
  assertMutable: (cluster: Cluster, what: string) => void,
  failure: LroFailure | undefined,
): Reply {
  const { world } = ctx;
  const location = requireLocation(ctx.body);
  const properties = obj(ctx.body.properties);
  if (!Array.isArray(properties.agentPoolProfiles) || properties.agentPoolProfiles.length === 0)
    throw new ArmError(
      400,
      'InvalidParameter',
      'The value of parameter agentPoolProfiles is invalid: at least one agent pool is required.',
    );
  // Local accounts can be disabled only on an AKS-managed Entra ID cluster, and Azure RBAC for Kubernetes
  // needs one too (spec 2026-04-01, `disableLocalAccounts`; manage-local-accounts-managed-azure-ad;
  // azure-real-behaviours F9).
  const aad = obj(properties.aadProfile);
  if ((properties.disableLocalAccounts === true || aad.enableAzureRBAC === true) && aad.managed !== true)
    throw new ArmError(
      400,
      'BadRequest',
      'Local accounts can only be disabled, and Azure RBAC for Kubernetes enabled, on clusters with AKS-managed Azure AD integration (aadProfile.managed: true).',
    );

  if (existing) {
    if (world.busy(existing) && existing.op!.kind === 'aks.delete')
      throw operationNotAllowed(`Managed cluster '${existing.name}' is being deleted.`);
    // ARM PUT is idempotent: the same body changes nothing (a Failed cluster is reconciled again).
    if (sameJson(existing.body, ctx.body) && !world.lastFailed(existing))
      return { status: 200, body: existing.present() };
    assertGroupWritable(world, ctx.rgName);
    assertMutable(existing, 'update');
    existing.body = ctx.body;
    existing.tags = tagsOf(ctx.body);
    const op = world.start({
      kind: 'aks.update',
      resource: existing,
      label: 'Updating',
      durationMs: world.durations.aksUpdate,
      failure,
      namespace: AKS_NAMESPACE,
      apiVersion: ctx.apiVersion,
      // Reconciling a cluster whose creation failed brings up its load balancer and egress IP too.
      onSucceeded: () => {
        if (!existing.publicIpId && outboundType(existing) === 'loadBalancer')
          existing.publicIpId = addOutboundIp(world, existing).id;
      },
    });
    return {
      status: 200,
      body: existing.present(),
      headers: world.acceptedHeaders(op, { asyncOperation: true }),
    };
  }

  const group = assertGroupWritable(world, ctx.rgName);
  const canonicalId = `${group.id}/providers/Microsoft.ContainerService/managedClusters/${ctx.name}`;
  const nodeResourceGroup =
    typeof properties.nodeResourceGroup === 'string'
      ? properties.nodeResourceGroup
      : `MC_${group.name}_${ctx.name}_${location}`;
  const cluster: Cluster = {
    key: id.toLowerCase(),
    id: canonicalId,
    type: AKS_TYPE,
    name: ctx.name,
    rg: group.name.toLowerCase(),
    location,
    tags: tagsOf(ctx.body),
    body: ctx.body,
    createdAt: world.now(),
    power: 'Running',
    apiServer: { answering: true, since: world.now() },
    nodeResourceGroup,
    present: () => presentCluster(world, cluster),
  };
  world.add(cluster);
  // AKS creates (and owns) the node resource group first; its deletion goes with the cluster.
  const nodeGroup = ensureResourceGroup(world, nodeResourceGroup, location, {}, canonicalId);
  cluster.owns = [nodeGroup.key];
  const op = world.start({
    kind: 'aks.create',
    resource: cluster,
    label: 'Creating',
    durationMs: world.durations.aksCreate,
    failure,
    namespace: AKS_NAMESPACE,
    apiVersion: ctx.apiVersion,
    onSucceeded: () => {
      // The managed outbound IP of the standard load balancer exists once the cluster is up.
      if (outboundType(cluster) === 'loadBalancer') cluster.publicIpId = addOutboundIp(world, cluster).id;
    },
  });
  return {
    status: 201,
    body: cluster.present(),
    headers: world.acceptedHeaders(op, { asyncOperation: true }),
  };
}

function outboundType(cluster: Cluster): string {
  const networkProfile = obj(obj(cluster.body.properties).networkProfile);
  return typeof networkProfile.outboundType === 'string' ? networkProfile.outboundType : 'loadBalancer';
}

function addOutboundIp(world: World, cluster: Cluster): Resource {
  const h = sha256('outbound-ip', cluster.key);
  const ipName = fakeGuid('outbound-ip-name', cluster.key);
  const id = `${world.rgId(cluster.nodeResourceGroup)}/providers/Microsoft.Network/publicIPAddresses/${ipName}`;
  // A deterministic address in 20.0.0.0/8 (a Microsoft range), distinct per cluster.
  const ipAddress = `20.${h[0]}.${h[1]}.${1 + (h[2]! % 254)}`;
  const ip: Resource = {
    key: id.toLowerCase(),
    id,
    type: PUBLIC_IP_TYPE,
    name: ipName,
    rg: cluster.nodeResourceGroup.toLowerCase(),
    location: cluster.location,
    tags: { 'aks-managed-type': 'aks-slb-managed-outbound-ip' },
    body: {},
    createdAt: world.now(),
    present: () => ({
      id,
      name: ipName,
      type: PUBLIC_IP_TYPE,
      location: ip.location,
      tags: ip.tags,
      sku: { name: 'Standard', tier: 'Regional' },
      properties: {
        provisioningState: 'Succeeded',
        ipAddress,
        publicIPAddressVersion: 'IPv4',
        publicIPAllocationMethod: 'Static',
        idleTimeoutInMinutes: 4,
      },
    }),
  };
  return world.add(ip);
}

function presentCluster(world: World, cluster: Cluster): Obj {
  const body = cluster.body;
  const properties = obj(body.properties);
  const provisioningState = world.provisioningState(cluster);
  const version =
    typeof properties.kubernetesVersion === 'string'
      ? properties.kubernetesVersion
      : DEFAULT_KUBERNETES_VERSION;
  const dnsPrefix = dnsPrefixOf(world, cluster);
  const hash = fqdnHash(cluster);
  const networkProfile = obj(properties.networkProfile);
  const oidc = obj(properties.oidcIssuerProfile);
  const oidcEnabled = oidc.enabled !== false;
  const identity = obj(body.identity);
  const nodeRgId = world.rgId(cluster.nodeResourceGroup);
  return {
    id: cluster.id,
    location: cluster.location,
    name: cluster.name,
    type: AKS_TYPE,
    tags: cluster.tags,
    sku: body.sku ?? { name: 'Base', tier: 'Free' },
    ...(body.kind ? { kind: body.kind } : {}),
    identity: {
      ...identity,
      type: identity.type ?? 'SystemAssigned',
      principalId: fakeGuid('principal', cluster.key),
      tenantId: TENANT_ID,
    },
    properties: {
      ...properties,
      provisioningState,
      powerState: { code: cluster.power },
      kubernetesVersion: version,
      currentKubernetesVersion: version,
      dnsPrefix,
      fqdn: `${dnsPrefix}-${hash}.hcp.${cluster.location}.azmk8s.io`,
      azurePortalFQDN: `${dnsPrefix}-${hash}.portal.hcp.${cluster.location}.azmk8s.io`,
      agentPoolProfiles: (properties.agentPoolProfiles as unknown[]).map((p) =>
        presentPoolProfile(world, cluster, obj(p)),
      ),
      nodeResourceGroup: cluster.nodeResourceGroup,
      enableRBAC: properties.enableRBAC ?? true,
      maxAgentPools: 100,
      networkProfile: {
        networkPlugin: 'azure',
        loadBalancerSku: 'standard',
        outboundType: 'loadBalancer',
        ...networkProfile,
        ...(outboundType(cluster) === 'loadBalancer'
          ? {
              loadBalancerProfile: {
                managedOutboundIPs: { count: 1 },
                ...obj(networkProfile.loadBalancerProfile),
                ...(cluster.publicIpId ? { effectiveOutboundIPs: [{ id: cluster.publicIpId }] } : {}),
              },
            }
          : {}),
      },
      oidcIssuerProfile: {
        ...oidc,
        enabled: oidcEnabled,
        ...(oidcEnabled
          ? {
              issuerURL: `https://${cluster.location}.oic.prod-aks.azure.com/${TENANT_ID}/${fakeGuid('oidc', cluster.key)}/`,
            }
          : {}),
      },
      // AKS fills in the tenant of a managed Entra ID integration.
      ...(obj(properties.aadProfile).managed === true
        ? { aadProfile: { ...obj(properties.aadProfile), tenantID: TENANT_ID } }
        : {}),
      identityProfile: {
        kubeletidentity: {
          resourceId: `${nodeRgId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${cluster.name}-agentpool`,
          clientId: fakeGuid('kubelet-client', cluster.key),
          objectId: fakeGuid('kubelet-object', cluster.key),
        },
      },
    },
  };
}

function presentPoolProfile(world: World, cluster: Cluster, profile: Obj): Obj {
  const version =
    typeof obj(cluster.body.properties).kubernetesVersion === 'string'
      ? (obj(cluster.body.properties).kubernetesVersion as string)
      : DEFAULT_KUBERNETES_VERSION;
  return {
    count: 1,
    mode: 'System',
    osType: 'Linux',
    type: 'VirtualMachineScaleSets',
    ...profile,
    provisioningState: world.provisioningState(cluster),
    powerState: { code: cluster.power },
    orchestratorVersion: profile.orchestratorVersion ?? version,
    currentOrchestratorVersion: profile.orchestratorVersion ?? version,
    nodeImageVersion: 'AKSUbuntu-2204gen2containerd-202601.12.0',
  };
}

function agentPools(world: World, cluster: Cluster): Obj[] {
  const profiles = obj(cluster.body.properties).agentPoolProfiles as unknown[];
  return profiles.map((p) => {
    const { name, ...rest } = presentPoolProfile(world, cluster, obj(p));
    return {
      id: `${cluster.id}/agentPools/${String(name)}`,
      name,
      type: 'Microsoft.ContainerService/managedClusters/agentPools',
      properties: rest,
    };
  });
}

function dnsPrefixOf(world: World, cluster: Cluster): string {
  const properties = obj(cluster.body.properties);
  return typeof properties.dnsPrefix === 'string'
    ? properties.dnsPrefix
    : `${cluster.name}-${cluster.rg}-${world.subscriptionId.slice(0, 6)}`.slice(0, 54);
}

/**
 * The hash in the API server's FQDN (`<dnsPrefix>-<hash>.hcp.<region>.azmk8s.io`). AKS makes it when it
 * creates the cluster: a cluster deleted and created again under the same name answers at a new address
 * (with a new cluster CA), and a kubeconfig of the old one reaches nothing.
 */
const fqdnHash = (cluster: Cluster) =>
  sha256('fqdn', cluster.key, String(cluster.createdAt)).toString('hex').slice(0, 8);

/** The API server's host name of the cluster `id`; undefined: no such cluster. */
export function clusterFqdn(world: World, id: string): string | undefined {
  const cluster = world.get(id);
  if (!isCluster(cluster)) return undefined;
  return `${dnsPrefixOf(world, cluster)}-${fqdnHash(cluster)}.hcp.${cluster.location}.azmk8s.io`;
}

/** What a kubeconfig of the cluster carries: its server, the CA and the admin client certificate. */
export interface KubeAccessPoint {
  /** The URL the kubeconfig names for the cluster at `fqdn` (the address of this incarnation of it). */
  server(cluster: { id: string; name: string; fqdn?: string }): string;
  readonly caPem: string;
  adminCertificate(cluster: { id: string; name: string }): Promise<{ certificate: string; key: string }>;
}

/** How a cluster may be reached: local accounts, Entra ID tokens, Azure RBAC for Kubernetes. */
export function clusterAccess(
  world: World,
  id: string,
): { localAccounts: boolean; entra: boolean; azureRbac: boolean } | undefined {
  const cluster = world.get(id);
  if (!isCluster(cluster)) return undefined;
  const properties = obj(cluster.body.properties);
  const aad = obj(properties.aadProfile);
  return {
    localAccounts: properties.disableLocalAccounts !== true,
    entra: aad.managed === true,
    azureRbac: aad.managed === true && aad.enableAzureRBAC === true,
  };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/**
 * The kubeconfig AKS returns: the cluster's CA and https server, and as user the admin's client certificate
 * (CN=masterclient, O=system:masters) with its key: no token (azure-real-behaviours F9). On an Entra ID
 * cluster the user credential carries no secret at all: an exec user running kubelogin, which gets an
 * Entra token for AKS's server application.
 */
async function kubeconfigFor(world: World, cluster: Cluster, admin: boolean): Promise<string> {
  const access = world.options.kubeAccess;
  if (!access) throw new Error('the simulated ARM has no API server to put into kubeconfigs (kubeAccess)');
  const entra = clusterAccess(world, cluster.id)!.entra;
  const user = `${admin ? 'clusterAdmin' : 'clusterUser'}_${cluster.rg}_${cluster.name}`;
  const context = admin ? `${cluster.name}-admin` : cluster.name;
  let credential: Obj;
  if (entra && !admin)
    credential = {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: 'kubelogin',
        args: [
          'get-token',
          '--login',
          'devicecode',
          '--server-id',
          AKS_SERVER_APP_ID,
          '--client-id',
          '80faf920-1908-4b52-b5ef-a8e7bedfc67a',
          '--tenant-id',
          TENANT_ID,
          '--environment',
          'AzurePublicCloud',
        ],
        env: null,
        provideClusterInfo: false,
        installHint: 'kubelogin is not installed which is required to connect to AAD enabled cluster.',
      },
    };
  else {
    const pair = await access.adminCertificate(cluster);
    credential = {
      'client-certificate-data': b64(pair.certificate),
      'client-key-data': b64(pair.key),
      // AKS adds the admin's static token as well on some versions; the sandbox models the certificate only.
    };
  }
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster.name,
        cluster: {
          server: access.server({
            id: cluster.id,
            name: cluster.name,
            fqdn: clusterFqdn(world, cluster.id)!,
          }),
          'certificate-authority-data': b64(access.caPem),
        },
      },
    ],
    contexts: [{ name: context, context: { cluster: cluster.name, user } }],
    'current-context': context,
    users: [{ name: user, user: credential }],
  });
}
