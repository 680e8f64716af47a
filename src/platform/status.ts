/**
 * What GET /platforms/{id} and its /status show, computed from the registry record, the orchestration
 * instance and the time alone: the service does the reads, this decides what they mean.
 */
import { canonicalModel } from './catalog.js';
import { estimateCost } from './cost.js';
import { gpuReleasesAt, stopsAt } from './idle.js';
import { GRAFANA_ADMIN_USER, OPENWEBUI_DB_ROLE, defaultAdminEmail, postgresHost } from './manifests.js';
import { platformSecretNames, publicEndpoints } from './naming.js';
import { SETTLED_PHASES } from './phases.js';
import { GPU_IDLE_MINUTES, PREWARM_LEAD_MINUTES } from './policy.js';
import { nextUsualStretch } from './prewarm.js';
import type { ModelState, PlatformRecord } from './types.js';

export const links = (id: string) => ({ self: `/platforms/${id}`, status: `/platforms/${id}/status` });

/** The orchestration instance the status names: the one running, else the latest. */
export interface FlowInstance {
  instanceId: string;
  name: string;
  runtimeStatus: string;
  customStatus?: unknown;
  lastUpdatedTime?: string;
}

/** How long the named step may run before it fails as a timeout. */
export type StepDeadline = (step: string) => number;

/** A platform as GET /platforms/{id} shows it. */
export function platformView(r: PlatformRecord) {
  return {
    id: r.id,
    phase: r.phase,
    operation: r.operation,
    spec: r.spec,
    owners: r.owners ?? [],
    // Where it lives (absent on records made before the pool: the default subscription).
    ...(r.subscriptionId ? { subscriptionId: r.subscriptionId } : {}),
    names: publicNames(r),
    endpoints: r.endpoints,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    links: links(r.id),
  };
}

/** A platform as GET /platforms/{id}/status shows it. */
export function platformStatus(
  r: PlatformRecord,
  instance: FlowInstance | undefined,
  now: Date,
  stepDeadlineMs: StepDeadline,
) {
  const { idleMinutes, gpuIdleMinutes, stops, releases, releasesFirst, planned } = idlePlan(r, now);
  const ready = r.phase === 'Ready';
  return {
    id: r.id,
    phase: r.phase,
    operation: r.operation,
    orchestration: instance
      ? {
          instanceId: instance.instanceId,
          name: instance.name,
          runtimeStatus: instance.runtimeStatus,
          customStatus: instance.customStatus ?? null,
          lastUpdatedTime: instance.lastUpdatedTime,
        }
      : null,
    steps: r.steps,
    models: r.models,
    endpoints: r.endpoints,
    credentials: {
      keyVaultSecrets: platformSecretNames(r.names, r.spec.huggingFaceToken),
      accounts: credentialsOf(r),
      // After a teardown the vault's purge protection refused to purge: what stays soft-deleted, until when.
      softDeleted: r.softDeletedSecrets ?? [],
    },
    lastError: r.lastError ?? null,
    warnings: warningsOf(r, now, stepDeadlineMs),
    power: r.power ?? null,
    smokeTest: r.smokeTest ?? null,
    lastActiveAt: r.lastActiveAt ?? null,
    autoStop: {
      idleMinutes,
      gpuIdleMinutes,
      // When the idle sweep will stop it if nobody uses it meanwhile (the same rule the sweep applies).
      stopsAt: stops,
      gpuReleasesAt: releasesFirst ? releases : null,
    },
    // Each tier's state: the platform (control plane, Open WebUI, PostgreSQL) and the GPU (Ollama, its node).
    // Out of Ready, both tiers are in the platform's phase (stopped, starting, updating, …).
    tiers: {
      platform: { state: ready ? 'running' : r.phase.toLowerCase() },
      gpu: {
        state: ready ? (r.gpu?.state ?? 'running') : r.phase.toLowerCase(),
        since: ready ? (r.gpu?.since ?? null) : null,
        ...(ready && r.gpu?.error ? { error: r.gpu.error } : {}),
      },
    },
    planned,
    costPerHour: costPerHour(r),
    updatedAt: r.updatedAt,
    links: links(r.id),
  };
}

/** What a platform costs per hour as specified (the same estimate as the plan's). */
export const costPerHour = (r: PlatformRecord) => ({ currency: 'USD', ...estimateCost(r.spec).perHour });

/**
 * What GET /platforms shows of each platform beyond its phase: the cost, the warnings and the idle sweep's
 * next actions, exactly as its status computes them.
 */
export function platformOverview(r: PlatformRecord, now: Date, stepDeadlineMs: StepDeadline) {
  return {
    costPerHour: costPerHour(r),
    warnings: warningsOf(r, now, stepDeadlineMs),
    planned: idlePlan(r, now).planned,
  };
}

/** Pre-warm looks this far ahead for the status: the next usual stretch within a week. */
const PREWARM_HORIZON_MS = 7 * 24 * 3_600_000;

/**
 * What the idle sweep will do if nobody uses the platform meanwhile (its rule: the long limit wins), and the
 * learned pre-warm's next start (Stopped) or GPU wake (released), PREWARM_LEAD_MINUTES before a usual stretch.
 */
function idlePlan(r: PlatformRecord, now: Date) {
  const idleMinutes = r.spec.autoStop.idleMinutes;
  const gpuIdleMinutes = r.spec.autoStop.gpuIdleMinutes ?? GPU_IDLE_MINUTES.default;
  const lastActiveAt = r.lastActiveAt ?? r.updatedAt;
  const ready = r.phase === 'Ready';
  const stops = ready ? stopsAt({ idleMinutes, lastActiveAt }) : null;
  const releases = ready
    ? gpuReleasesAt({ gpuIdleMinutes, lastActiveAt, ...(r.gpu ? { gpu: r.gpu.state } : {}) })
    : null;
  const releasesFirst = !!releases && (!stops || releases < stops);
  const planned = [
    ...(releasesFirst
      ? [
          {
            action: 'releaseGpu',
            at: releases,
            reason: `No model loaded for autoStop.gpuIdleMinutes (${gpuIdleMinutes}) since the last use at ${lastActiveAt}: Ollama goes to zero and the GPU node is released; Open WebUI stays up.`,
          },
        ]
      : []),
    ...(stops
      ? [
          {
            action: 'stop',
            at: stops,
            reason: `No use for autoStop.idleMinutes (${idleMinutes}) since the last use at ${lastActiveAt}: the whole platform stops.`,
          },
        ]
      : []),
  ];
  const cold = r.phase === 'Stopped' || (r.phase === 'Ready' && r.gpu?.state === 'released');
  const stretch =
    cold && r.spec.autoStop.prewarm !== false ? nextUsualStretch(r.usage, now, PREWARM_HORIZON_MS) : null;
  if (stretch)
    planned.push({
      action: r.phase === 'Stopped' ? 'start' : 'wakeGpu',
      at: new Date(Date.parse(stretch) - PREWARM_LEAD_MINUTES * 60_000).toISOString(),
      reason: `Learned pre-warm (autoStop.prewarm): usually used from ${stretch} (UTC hour of the week, over the last weeks); ${r.phase === 'Stopped' ? 'the platform is started' : 'the GPU tier is woken'} ${PREWARM_LEAD_MINUTES} minutes before.`,
    });
  return { idleMinutes, gpuIdleMinutes, stops, releases, releasesFirst, planned };
}

/**
 * Where each credential lives: the account it opens (where, as whom) and the Key Vault secret that holds
 * it, by name. Never a value: a reader with access to the vault reads the secret there.
 */
export function credentialsOf(r: PlatformRecord) {
  const secret = r.names.secrets;
  const endpoints = publicEndpoints(r.names, r.spec.location);
  return {
    openWebuiAdmin: {
      url: endpoints['open-webui'],
      user: r.spec.webui.adminEmail ?? defaultAdminEmail(r.spec.prefix),
      keyVaultSecret: secret['openwebui-admin-password'],
    },
    grafanaAdmin: {
      url: endpoints.grafana,
      user: GRAFANA_ADMIN_USER,
      keyVaultSecret: secret['grafana-admin-password'],
    },
    postgresAdmin: {
      host: postgresHost(r.names),
      user: r.names.postgresAdminLogin,
      keyVaultSecret: secret['postgres-admin-password'],
    },
    openWebuiDatabase: {
      host: postgresHost(r.names),
      user: OPENWEBUI_DB_ROLE,
      keyVaultSecret: secret['openwebui-db-password'],
    },
    // Signs Open WebUI's sessions; no account of its own.
    openWebuiSecretKey: { keyVaultSecret: secret['openwebui-secret-key'] },
    ...(r.spec.huggingFaceToken ? { huggingFaceToken: { keyVaultSecret: secret['huggingface-token'] } } : {}),
  };
}

/** Each model of the new list keeps its state (matched by canonical name); added ones start pending. */
export function carryModelStates(
  models: readonly string[],
  states: Record<string, ModelState>,
  added: readonly string[],
): Record<string, ModelState> {
  const byCanonical = new Map(Object.entries(states).map(([m, state]) => [canonicalModel(m), state]));
  return Object.fromEntries(
    models.map((m) => [m, added.includes(m) ? 'pending' : (byCanonical.get(canonicalModel(m)) ?? 'pending')]),
  );
}

/**
 * What works but not as it should: the flows' own warnings (a model on the CPU), failed model pulls, the
 * idle probe failing (the platform is then never auto-stopped), secrets a teardown could not purge, and a
 * step running past its deadline.
 */
export function warningsOf(r: PlatformRecord, now: Date, stepDeadlineMs: StepDeadline): string[] {
  const warnings = [...(r.warnings ?? [])];
  for (const [model, state] of Object.entries(r.models))
    if (state === 'failed')
      warnings.push(`Model ${model} could not be pulled; the platform serves the others.`);
  if (r.probeFailure && r.phase === 'Ready')
    warnings.push(
      `The idle probe failed ${r.probeFailure.consecutive} time(s) in a row (last at ${r.probeFailure.at}: ${r.probeFailure.reason}); the platform is not auto-stopped while its usage cannot be read.`,
    );
  if (r.phase === 'Deleted' && r.softDeletedSecrets?.length) {
    const until = r.softDeletedSecrets
      .map((s) => s.scheduledPurgeDate)
      .filter((d): d is string => d !== undefined)
      .sort()
      .at(-1);
    warnings.push(
      `Key Vault's purge protection keeps ${r.softDeletedSecrets.length} secret(s) of this platform soft-deleted${until ? ` until ${until}` : ''} (credentials.softDeleted); creating the prefix again recovers them.`,
    );
  }
  // Steps left running by a flow a DELETE terminated are not overdue: only a running flow's steps count.
  const flowRuns = !SETTLED_PHASES.includes(r.phase);
  for (const step of flowRuns ? r.steps : []) {
    if (step.state !== 'running' || !step.startedAt) continue;
    const deadline = stepDeadlineMs(step.name);
    const running = now.getTime() - Date.parse(step.startedAt);
    if (running > deadline)
      warnings.push(
        `Step ${step.name} has been running for ${Math.round(running / 60_000)} minutes, past its ${Math.round(deadline / 60_000)}-minute deadline.`,
      );
  }
  return warnings;
}

/** The derived names a client may see: secret names appear only as the status's credentials. */
export function publicNames(r: PlatformRecord) {
  const { secrets: _secrets, ...names } = r.names;
  return names;
}
