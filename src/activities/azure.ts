/**
 * Azure-side activities of the platform flows. Each does one small, idempotent thing: an "ensure" reads
 * first and writes only what differs; a "begin" sends the PUT and returns as soon as Azure accepted it,
 * with the operation URL to poll; no activity waits for a long-running operation (Consumption-plan
 * functions stop after 5–10 minutes; an AKS creation takes longer). Failures the orchestrator must decide
 * on come back as typed results; only unexpected faults throw.
 */
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { randomBytes } from 'node:crypto';
import type { Server } from '@azure/arm-postgresql-flexible';
import type { AzureClients } from '../azure/clients.js';
import { classifyAzureError } from '../azure/errors.js';
import {
  aksClusterBody,
  fileShares,
  postgresServerBody,
  storageAccountBody,
} from '../platform/azure-resources.js';
import { choosePostgresSku } from '../platform/sizing.js';
import { MANAGED_BY, platformTags } from '../platform/tags.js';
import type { SecretKind } from '../platform/naming.js';
import type { PlatformRecord } from '../platform/types.js';
import type { Registry } from '../registry/registry.js';
import type {
  Activities,
  Failure,
  OperationStatus,
  PostgresChild,
  ResourceState,
  Result,
} from './contract.js';

export interface AzureActivityDeps {
  clients: AzureClients;
  registry: Registry;
}

type Handlers = {
  [N in keyof Activities]?: (input: Activities[N]['input']) => Promise<Activities[N]['output']>;
};

/** Secrets generated for every platform (the Hugging Face token comes from the request instead). */
const GENERATED_SECRETS: readonly SecretKind[] = [
  'postgres-admin-password',
  'openwebui-db-password',
  'openwebui-secret-key',
  'grafana-admin-password',
  'openwebui-admin-password',
];

export function createAzureActivities({ clients, registry }: AzureActivityDeps) {
  const load = async (platformId: string): Promise<PlatformRecord> => {
    const record = await registry.get(platformId);
    if (!record) throw new Error(`platform ${platformId} has no registry record`);
    return record;
  };
  const ours = (tags: Record<string, string> | undefined, id: string) =>
    tags?.['managed-by'] === MANAGED_BY && tags?.['platform-id'] === id;
  const notOurs = (what: string, name: string): Failure => ({
    ok: false,
    kind: 'conflict',
    code: 'ResourceNotManaged',
    message: `${what} '${name}' exists but is not tagged as this platform's; it is never adopted. Delete or rename it, or choose another prefix.`,
  });
  const missing = (what: string, name: string): Failure => ({
    ok: false,
    kind: 'notFound',
    code: 'ResourceNotFound',
    message: `${what} '${name}' does not exist.`,
  });
  /** Sends a PATCH of the sku when a Ready server's differs from what the replicas need. */
  const resizeIfNeeded = async (
    server: Server,
    spec: PlatformRecord['spec'],
    names: PlatformRecord['names'],
  ): Promise<Result<ResourceState>> => {
    const sku = choosePostgresSku(spec.webui.replicas);
    // A resize in flight (sent by an earlier execution whose answer was lost) is followed until it ends.
    if (server.state === 'Updating')
      return { ok: true, value: { provisioningState: 'Updating', mutated: false } };
    const state = postgresProvisioningState(server.state);
    if (server.sku?.name === sku.name || server.state !== 'Ready')
      return { ok: true, value: { provisioningState: state, mutated: false } };
    const { seen, onResponse, abortSignal, submit } = captureOperation();
    await submit(
      clients.postgres.servers.beginUpdate(
        names.resourceGroup,
        names.postgresServer,
        { sku: { name: sku.name, tier: sku.tier } },
        { onResponse, abortSignal },
      ),
    );
    return accepted(seen);
  };

  /** Runs `fn`, turning what Azure threw into a typed failure. */
  const attempt = async <T>(fn: () => Promise<Result<T>>): Promise<Result<T>> => {
    try {
      return await fn();
    } catch (e) {
      return classifyAzureError(e);
    }
  };
  /**
   * Azure answered the PUT: with an operation to follow, or (an identical PUT while the first still runs)
   * with the resource's current provisioningState, which the orchestrator then polls.
   */
  const accepted = (seen: {
    url?: string;
    state?: string;
    retryAfterMs?: number;
  }): Result<ResourceState> => ({
    ok: true,
    value: seen.url
      ? {
          provisioningState: 'Accepted',
          mutated: true,
          operationUrl: seen.url,
          ...(seen.retryAfterMs ? { retryAfterMs: seen.retryAfterMs } : {}),
        }
      : { provisioningState: seen.state ?? 'Succeeded', mutated: true },
  });

  const handlers = {
    async ensureResourceGroup({ platformId }) {
      return attempt<ResourceState>(async () => {
        const { spec, names } = await load(platformId);
        const existing = await readOrUndefined(() =>
          clients.resources.resourceGroups.get(names.resourceGroup),
        );
        const tags = platformTags(spec);
        if (existing) {
          if (!ours(existing.tags, platformId)) return notOurs('Resource group', names.resourceGroup);
          if (existing.location !== spec.location) {
            return {
              ok: false,
              kind: 'conflict',
              code: 'LocationMismatch',
              message: `Resource group '${names.resourceGroup}' is in ${existing.location}, not ${spec.location}.`,
            };
          }
          if (sameTags(existing.tags, tags))
            return { ok: true, value: { provisioningState: 'Succeeded', mutated: false } };
        }
        await clients.resources.resourceGroups.createOrUpdate(names.resourceGroup, {
          location: spec.location,
          tags,
        });
        return { ok: true, value: { provisioningState: 'Succeeded', mutated: true } };
      });
    },

    async ensurePlatformSecrets({ platformId }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const created: string[] = [];
        for (const kind of GENERATED_SECRETS) {
          const name = names.secrets[kind];
          // Generated once: a retry finds the secret and keeps it (a new WEBUI_SECRET_KEY would log everyone out).
          if (await readOrUndefined(() => clients.secrets.getSecret(name))) continue;
          await setSecretReplacingDeleted(clients, name, generateSecret());
          created.push(name);
        }
        return { ok: true, value: { created } };
      });
    },

    async beginAksClusterCreate({ platformId }) {
      return attempt(async () => {
        const { spec, names } = await load(platformId);
        const existing = await readOrUndefined(() =>
          clients.aks.managedClusters.get(names.resourceGroup, names.aksCluster),
        );
        if (existing) {
          if (!ours(existing.tags, platformId)) return notOurs('AKS cluster', names.aksCluster);
          // A failed creation is completed by sending the same PUT again (ARM reconciles); anything else is left alone.
          if (existing.provisioningState !== 'Failed' && existing.provisioningState !== 'Canceled') {
            return {
              ok: true,
              value: { provisioningState: existing.provisioningState ?? 'Succeeded', mutated: false },
            };
          }
        }
        const { seen, onResponse } = captureOperation();
        await clients.aks.managedClusters
          .createOrUpdate(names.resourceGroup, names.aksCluster, aksClusterBody(spec, names), { onResponse })
          .submitted();
        return accepted(seen);
      });
    },

    async beginPostgresServerCreate({ platformId }) {
      return attempt(async () => {
        const { spec, names } = await load(platformId);
        const existing = await readOrUndefined(() =>
          clients.postgres.servers.get(names.resourceGroup, names.postgresServer),
        );
        if (existing) {
          if (!ours(existing.tags, platformId)) return notOurs('PostgreSQL server', names.postgresServer);
          // A server whose creation failed is provisioned again by the same PUT; a Ready one on another SKU
          // than the spec asks (a retry after a failed replicas change) is resized; anything else is left alone.
          const state = postgresProvisioningState(existing.state);
          if (state !== 'Failed') return resizeIfNeeded(existing, spec, names);
        }
        // The admin password goes from Key Vault straight into the request body; it is never returned or logged.
        const password =
          (await clients.secrets.getSecret(names.secrets['postgres-admin-password'])).value ?? '';
        const { seen, onResponse, abortSignal, submit } = captureOperation();
        await submit(
          clients.postgres.servers.beginCreateOrUpdate(
            names.resourceGroup,
            names.postgresServer,
            postgresServerBody(spec, names, password),
            { onResponse, abortSignal },
          ),
        );
        return accepted(seen);
      });
    },

    async beginStorageAccountCreate({ platformId }) {
      return attempt(async () => {
        const { spec, names } = await load(platformId);
        const existing = await readOrUndefined(() =>
          clients.storage.storageAccounts.getProperties(names.resourceGroup, names.storageAccount),
        );
        if (existing) {
          if (!ours(existing.tags, platformId)) return notOurs('Storage account', names.storageAccount);
          return {
            ok: true,
            value: { provisioningState: existing.provisioningState ?? 'Succeeded', mutated: false },
          };
        }
        const { seen, onResponse } = captureOperation();
        await clients.storage.storageAccounts
          .create(names.resourceGroup, names.storageAccount, storageAccountBody(spec), { onResponse })
          .submitted();
        return accepted(seen);
      });
    },

    async beginAksClusterPower({ platformId, action }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const cluster = await readOrUndefined(() =>
          clients.aks.managedClusters.get(names.resourceGroup, names.aksCluster),
        );
        if (!cluster) return missing('AKS cluster', names.aksCluster);
        const target = action === 'stop' ? 'Stopped' : 'Running';
        const busy = cluster.provisioningState === 'Stopping' || cluster.provisioningState === 'Starting';
        // Already where we want it (or on its way there): nothing to send, the caller polls the state.
        if (cluster.powerState?.code === target) {
          return {
            ok: true,
            value: { provisioningState: busy ? cluster.provisioningState! : 'Succeeded', mutated: false },
          };
        }
        const { seen, onResponse } = captureOperation();
        const poller =
          action === 'stop'
            ? clients.aks.managedClusters.stop(names.resourceGroup, names.aksCluster, { onResponse })
            : clients.aks.managedClusters.start(names.resourceGroup, names.aksCluster, { onResponse });
        await poller.submitted();
        return accepted(seen);
      });
    },

    async beginPostgresServerPower({ platformId, action }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const server = await readOrUndefined(() =>
          clients.postgres.servers.get(names.resourceGroup, names.postgresServer),
        );
        if (!server) return missing('PostgreSQL server', names.postgresServer);
        const [target, transitional] = action === 'stop' ? ['Stopped', 'Stopping'] : ['Ready', 'Starting'];
        if (server.state === target)
          return { ok: true, value: { provisioningState: 'Succeeded', mutated: false } };
        if (server.state === transitional)
          return { ok: true, value: { provisioningState: transitional, mutated: false } };
        const { seen, onResponse, abortSignal, submit } = captureOperation();
        const options = { onResponse, abortSignal };
        await submit(
          action === 'stop'
            ? clients.postgres.servers.beginStop(names.resourceGroup, names.postgresServer, options)
            : clients.postgres.servers.beginStart(names.resourceGroup, names.postgresServer, options),
        );
        return accepted(seen);
      });
    },

    /** A replicas change may need a larger SKU (every Open WebUI pool must fit): PATCH the sku alone. */
    async beginPostgresServerResize({ platformId }) {
      return attempt(async () => {
        const { spec, names } = await load(platformId);
        const server = await readOrUndefined(() =>
          clients.postgres.servers.get(names.resourceGroup, names.postgresServer),
        );
        if (!server) return missing('PostgreSQL server', names.postgresServer);
        return resizeIfNeeded(server, spec, names);
      });
    },

    /** The wipe drops the openwebui database (with every user, chat, document and embedding in it). */
    async beginPostgresDatabaseDelete({ platformId }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const rg = names.resourceGroup;
        const server = names.postgresServer;
        const database = names.postgresDatabase;
        const db = await readOrUndefined(() => clients.postgres.databases.get(rg, server, database));
        if (!db) return { ok: true, value: { provisioningState: 'Succeeded', mutated: false } };
        const { seen, onResponse, abortSignal, submit } = captureOperation();
        await submit(
          clients.postgres.databases.beginDelete(rg, server, database, { onResponse, abortSignal }),
        );
        return accepted(seen);
      });
    },

    async getPowerStates({ platformId }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const [cluster, server] = await Promise.all([
          readOrUndefined(() => clients.aks.managedClusters.get(names.resourceGroup, names.aksCluster)),
          readOrUndefined(() => clients.postgres.servers.get(names.resourceGroup, names.postgresServer)),
        ]);
        return {
          ok: true,
          value: { aks: cluster?.powerState?.code ?? 'Absent', postgres: server?.state ?? 'Absent' },
        };
      });
    },

    async beginResourceGroupDelete({ platformId }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const group = await readOrUndefined(() => clients.resources.resourceGroups.get(names.resourceGroup));
        if (!group) return { ok: true, value: { provisioningState: 'Succeeded', mutated: false } };
        if (!ours(group.tags, platformId)) return notOurs('Resource group', names.resourceGroup);
        if (group.properties?.provisioningState === 'Deleting')
          return { ok: true, value: { provisioningState: 'Deleting', mutated: false } };
        const { seen, onResponse, abortSignal, submit } = captureOperation();
        await submit(
          clients.resources.resourceGroups.beginDelete(names.resourceGroup, { onResponse, abortSignal }),
        );
        return accepted(seen);
      });
    },

    async purgePlatformSecrets({ platformId }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const purged: string[] = [];
        const pending: string[] = [];
        for (const name of Object.values(names.secrets)) {
          // Delete (soft) then purge, so the prefix can be used again at once. A 404 anywhere means another
          // execution of this activity (a replay after a crash) got there first: already gone is success.
          const live = await readOrUndefined(() => clients.secrets.getSecret(name));
          if (live) {
            // The SDK's poller waits until Key Vault shows the deleted secret (seconds). Bounded: if another
            // execution purged it meanwhile it never shows, and the next call finds nothing left to do.
            const abortSignal = AbortSignal.timeout(SECRET_DELETE_WAIT_MS);
            try {
              await readOrUndefined(async () =>
                (await clients.secrets.beginDeleteSecret(name, { abortSignal })).pollUntilDone({
                  abortSignal,
                }),
              );
            } catch (e) {
              if (!abortSignal.aborted) throw e;
              pending.push(name);
              continue;
            }
          }
          const deleted = await readOrUndefined(() => clients.secrets.getDeletedSecret(name));
          if (deleted) {
            await readOrUndefined(() => clients.secrets.purgeDeletedSecret(name));
            purged.push(name);
          }
        }
        if (pending.length > 0)
          return {
            ok: false,
            kind: 'busy',
            code: 'SecretDeletionInProgress',
            message: `Key Vault is still deleting ${pending.length} secret(s) of the platform.`,
          };
        return { ok: true, value: { purged } };
      });
    },

    async getArmOperationStatus({ operationUrl }) {
      return attempt(async () => {
        const response = await clients.resources.sendRequest(
          createPipelineRequest({ url: operationUrl, method: 'GET' }),
        );
        const retryAfter = Number(response.headers.get('retry-after') ?? '');
        const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
        if (response.status === 404)
          return {
            ok: false,
            kind: 'notFound',
            code: 'OperationNotFound',
            message: 'The operation is no longer known to Azure.',
          };
        if (response.status >= 400)
          return classifyAzureError(restLike(response.status, response.bodyAsText ?? undefined));
        const body = parseJson(response.bodyAsText ?? undefined) as
          { status?: string; error?: { code?: string; message?: string } } | undefined;
        // Location-style operations answer 202 while running and 200/201/204 once done; async-operation style carries `status`.
        const status: OperationStatus['status'] = body?.status
          ? normaliseStatus(body.status)
          : response.status === 202
            ? 'InProgress'
            : 'Succeeded';
        const value: OperationStatus = { status, ...(retryAfterMs ? { retryAfterMs } : {}) };
        if (body?.error?.code) value.error = { code: body.error.code, message: body.error.message ?? '' };
        return { ok: true, value };
      });
    },

    async getAksOutboundIps({ platformId }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        const cluster = await clients.aks.managedClusters.get(names.resourceGroup, names.aksCluster);
        const ids =
          cluster.networkProfile?.loadBalancerProfile?.effectiveOutboundIPs
            ?.map((r) => r.id)
            .filter((id): id is string => !!id) ?? [];
        const ips: string[] = [];
        for (const id of ids) {
          const ip = await clients.resources.resources.getById(id, '2024-05-01');
          const address = (ip.properties as { ipAddress?: string } | undefined)?.ipAddress;
          if (address) ips.push(address);
        }
        if (ips.length === 0)
          return {
            ok: false,
            kind: 'busy',
            code: 'OutboundIpPending',
            message: 'The cluster has no outbound IP address yet.',
          };
        return { ok: true, value: { ips: ips.sort(), clusterId: cluster.id ?? '' } };
      });
    },

    async ensurePostgresChild({ platformId, child }) {
      return attempt(async () => {
        const { names } = await load(platformId);
        return ensurePostgresChild(clients, names.resourceGroup, names.postgresServer, child, accepted);
      });
    },

    async ensureFileShares({ platformId }) {
      return attempt(async () => {
        const { spec, names } = await load(platformId);
        let mutated = false;
        for (const share of fileShares(spec, names)) {
          const existing = await readOrUndefined(() =>
            clients.storage.fileShares.get(names.resourceGroup, names.storageAccount, share.name),
          );
          if (existing && (existing.shareQuota ?? 0) >= share.quotaGiB) continue;
          await clients.storage.fileShares.create(names.resourceGroup, names.storageAccount, share.name, {
            shareQuota: share.quotaGiB,
            enabledProtocols: 'SMB',
          });
          mutated = true;
        }
        return { ok: true, value: { mutated } };
      });
    },
  } satisfies Handlers;
  return handlers;
}

async function ensurePostgresChild(
  clients: AzureClients,
  rg: string,
  server: string,
  child: PostgresChild,
  accepted: (seen: { url?: string; state?: string; retryAfterMs?: number }) => Result<ResourceState>,
): Promise<Result<ResourceState>> {
  const unchanged: Result<ResourceState> = {
    ok: true,
    value: { provisioningState: 'Succeeded', mutated: false },
  };
  const { seen, onResponse, abortSignal, submit } = captureOperation();
  switch (child.kind) {
    case 'configuration': {
      const current = await readOrUndefined(() =>
        clients.postgres.configurations.get(rg, server, child.name),
      );
      if (current?.value?.toLowerCase() === child.value.toLowerCase()) return unchanged;
      await submit(
        clients.postgres.configurations.beginPut(
          rg,
          server,
          child.name,
          { value: child.value, source: 'user-override' },
          { onResponse, abortSignal },
        ),
      );
      return accepted(seen);
    }
    case 'database': {
      if (await readOrUndefined(() => clients.postgres.databases.get(rg, server, child.name)))
        return unchanged;
      await submit(
        clients.postgres.databases.beginCreate(
          rg,
          server,
          child.name,
          { charset: 'UTF8', collation: 'en_US.utf8' },
          { onResponse, abortSignal },
        ),
      );
      return accepted(seen);
    }
    case 'firewallRule': {
      const current = await readOrUndefined(() => clients.postgres.firewallRules.get(rg, server, child.name));
      if (current?.startIpAddress === child.startIpAddress && current.endIpAddress === child.endIpAddress)
        return unchanged;
      await submit(
        clients.postgres.firewallRules.beginCreateOrUpdate(
          rg,
          server,
          child.name,
          { startIpAddress: child.startIpAddress, endIpAddress: child.endIpAddress },
          { onResponse, abortSignal },
        ),
      );
      return accepted(seen);
    }
  }
}

/** A GET whose 404 means "absent", not failure. */
async function readOrUndefined<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
}

/**
 * Captures what Azure answered to the PUT: the operation URL (Azure-AsyncOperation or Location), the
 * provisioningState in the body, and Retry-After. Classic `begin*` methods poll once straight after the
 * PUT; aborting once the answer is in stops that poll, because the orchestrator polls durably, and not
 * before Retry-After. `submit` treats exactly that abort as success.
 */
function captureOperation() {
  const seen: { url?: string; state?: string; retryAfterMs?: number } = {};
  const controller = new AbortController();
  const onResponse = (raw: {
    headers: { get(name: string): string | null | undefined };
    bodyAsText?: string | null;
  }) => {
    if (controller.signal.aborted) return;
    seen.url = raw.headers.get('azure-asyncoperation') ?? raw.headers.get('location') ?? undefined;
    const body = parseJson(raw.bodyAsText ?? undefined) as
      { properties?: { provisioningState?: string } } | undefined;
    seen.state = body?.properties?.provisioningState;
    const retryAfter = Number(raw.headers.get('retry-after') ?? '');
    if (Number.isFinite(retryAfter) && retryAfter > 0) seen.retryAfterMs = retryAfter * 1000;
    controller.abort();
  };
  const submit = async (operation: Promise<unknown>) => {
    try {
      await operation;
    } catch (e) {
      if (!(controller.signal.aborted && (e as Error).name === 'AbortError')) throw e;
    }
  };
  return { seen, onResponse, abortSignal: controller.signal, submit };
}

/** PostgreSQL servers report `state`, not provisioningState. */
function postgresProvisioningState(state: string | undefined): string {
  if (
    state === 'Ready' ||
    state === 'Stopped' ||
    state === 'Starting' ||
    state === 'Stopping' ||
    state === 'Updating' ||
    state === 'Restarting'
  )
    return 'Succeeded';
  if (state === 'Disabled' || state === 'Dropping' || state === 'Inaccessible') return 'Failed';
  return state ?? 'Provisioning';
}

function normaliseStatus(s: string): OperationStatus['status'] {
  const lower = s.toLowerCase();
  if (lower === 'succeeded') return 'Succeeded';
  if (lower === 'failed') return 'Failed';
  if (lower === 'canceled' || lower === 'cancelled') return 'Canceled';
  return 'InProgress';
}

function sameTags(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {});
  return ka.length === Object.keys(b).length && ka.every((k) => a?.[k] === b[k]);
}

/**
 * 32 bytes from the CSPRNG, base64url: 43 characters with upper, lower and digits (PostgreSQL needs three
 * of four character classes; redrawn in the rare case one is missing).
 */
/** How long the purge waits for Key Vault to show a secret it deleted before asking to be called again. */
const SECRET_DELETE_WAIT_MS = 60_000;

export function generateSecret(): string {
  for (;;) {
    const value = randomBytes(32).toString('base64url');
    if (/[A-Z]/.test(value) && /[a-z]/.test(value) && /[0-9]/.test(value)) return value;
  }
}

/** A secret soft-deleted by an earlier platform of the same prefix blocks the name until purged. */
async function setSecretReplacingDeleted(clients: AzureClients, name: string, value: string) {
  const options = { contentType: 'text/plain', tags: { 'managed-by': MANAGED_BY } };
  try {
    await clients.secrets.setSecret(name, value, options);
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 409) throw e;
    await clients.secrets.purgeDeletedSecret(name);
    await clients.secrets.setSecret(name, value, options);
  }
}

function parseJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function restLike(statusCode: number, body: string | undefined) {
  const error = (parseJson(body) as { error?: { code?: string; message?: string } } | undefined)?.error;
  return {
    statusCode,
    code: error?.code,
    message: error?.message ?? `HTTP ${statusCode}`,
    details: { error },
  };
}
