/**
 * What the CLI prints for people: the step timeline of a status, the changes between two statuses (one
 * line each, for logs and pipes), the platform list and problems. Pure functions of the API's bodies.
 */
import type { ApiProblem, PlatformList, PlatformStatus } from '../client/api.js';

type Step = PlatformStatus['steps'][number];

const MARK: Record<Step['state'], string> = { pending: '·', running: '▸', succeeded: '✓', failed: '✗' };
const BAR_WIDTH = 24;

/** 45 s, 4m 05s, 1h 02m: a step's duration at a glance. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

const time = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NaN);

/**
 * The moment a running step is measured to: the API's times are the service's clock, so the latest time
 * the status carries keeps a running step's bar from going backwards when this machine's clock is behind
 * (against the sandbox, whose clock runs many times faster than real time, it always is).
 */
export function statusNow(status: PlatformStatus, localNow: number): number {
  const times = [
    localNow,
    time(status.updatedAt),
    time(status.orchestration?.lastUpdatedTime),
    ...status.steps.flatMap((s) => [time(s.startedAt), time(s.endedAt)]),
  ].filter(Number.isFinite);
  return Math.max(...times);
}

const stepMs = (step: Step, now: number) =>
  step.startedAt ? (step.endedAt ? time(step.endedAt) : now) - time(step.startedAt) : undefined;

/** Models as `name state`, in the order the status lists them. */
const modelsLine = (status: PlatformStatus) => {
  const models = Object.entries(status.models);
  return models.length ? `models: ${models.map(([m, s]) => `${m} ${s}`).join(' · ')}` : undefined;
};

/** The header, one line per step with a bar proportional to its duration, the models and the GPU tier. */
export function timeline(status: PlatformStatus, localNow: number): string[] {
  const now = statusNow(status, localNow);
  const flow = status.orchestration
    ? `${status.operation} (${status.orchestration.runtimeStatus})`
    : status.operation;
  const lines = [`${status.id}  ${status.phase}  ${flow}`];
  const durations = status.steps.map((s) => stepMs(s, now));
  const longest = Math.max(1, ...durations.map((d) => d ?? 0));
  const nameWidth = Math.max(4, ...status.steps.map((s) => s.name.length));
  status.steps.forEach((step, i) => {
    const ms = durations[i];
    const bar = ms === undefined ? '' : '█'.repeat(Math.max(1, Math.round((ms / longest) * BAR_WIDTH)));
    const took = ms === undefined ? '' : duration(ms);
    lines.push(
      `  ${MARK[step.state]} ${step.name.padEnd(nameWidth)}  ${step.state.padEnd(9)}  ${bar.padEnd(BAR_WIDTH)}  ${took}`.trimEnd(),
    );
    if (step.error) lines.push(`      ${step.error.code}: ${step.error.message}`);
  });
  const models = modelsLine(status);
  if (models) lines.push(models);
  if (status.phase === 'Ready' && status.tiers.gpu.state !== 'running')
    lines.push(
      `gpu: ${status.tiers.gpu.state}${status.tiers.gpu.since ? ` since ${status.tiers.gpu.since}` : ''}`,
    );
  return lines;
}

/** The timeline plus what a one-off `status` also wants: endpoints, warnings, the last error. */
export function statusReport(status: PlatformStatus, localNow: number): string[] {
  const lines = timeline(status, localNow);
  const endpoints = Object.entries(status.endpoints ?? {});
  if (endpoints.length) lines.push(...endpoints.map(([name, url]) => `${name}: ${url}`));
  for (const w of status.warnings) lines.push(`warning: ${w}`);
  if (status.lastError) lines.push(`last error: ${describeError(status.lastError)}`);
  return lines;
}

export const describeError = (e: { step?: string; code: string; message: string }) =>
  `${e.step ? `step ${e.step}: ` : ''}${e.code}: ${e.message}`;

/**
 * What changed from `before` to `after`, one line each (phase, each step's state, each model's state, the
 * GPU tier): the log of a watch where the output is not a terminal.
 */
export function changes(before: PlatformStatus | undefined, after: PlatformStatus): string[] {
  const lines: string[] = [];
  if (before?.phase !== after.phase || before?.operation !== after.operation)
    lines.push(`phase ${after.phase} (${after.operation})`);
  const now = statusNow(after, 0);
  for (const step of after.steps) {
    const previous = before?.steps.find((s) => s.name === step.name);
    // A step a flow runs again may pass from succeeded to succeeded between two reads: its end says so.
    if (previous?.state === step.state && previous.endedAt === step.endedAt) continue;
    if (!previous && step.state === 'pending') continue;
    const ms = step.state === 'succeeded' || step.state === 'failed' ? stepMs(step, now) : undefined;
    lines.push(
      `step ${step.name} ${step.state}${ms !== undefined ? ` (${duration(ms)})` : ''}${
        step.error ? `: ${step.error.code}: ${step.error.message}` : ''
      }`,
    );
  }
  for (const [model, state] of Object.entries(after.models))
    if (before?.models[model] !== state) lines.push(`model ${model} ${state}`);
  // Out of Ready the GPU tier is in the platform's phase, said by the phase line already.
  const gpuBefore = before?.phase === 'Ready' ? before.tiers.gpu.state : 'running';
  if (after.phase === 'Ready' && gpuBefore !== after.tiers.gpu.state)
    lines.push(`gpu ${after.tiers.gpu.state}`);
  return lines;
}

/** The platforms as a table. */
export function listTable(list: PlatformList): string[] {
  if (list.platforms.length === 0) return ['No platforms.'];
  const rows = [
    ['ID', 'PHASE', 'OPERATION', 'LOCATION', 'MODELS', 'CREATED'],
    ...list.platforms.map((p) => [p.id, p.phase, p.operation, p.location, p.models.join(','), p.createdAt]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd(),
  );
}

/** A problem as people read it: title and detail, then each named field (pointer or query parameter). */
export function problemLines(problem: ApiProblem): string[] {
  const lines = [`error: ${problem.title}${problem.status ? ` (HTTP ${problem.status})` : ''}`];
  if (problem.detail) lines.push(`  ${problem.detail}`);
  for (const e of problem.errors) {
    const where = e.pointer !== undefined ? e.pointer || '(body)' : (e.parameter ?? '');
    lines.push(`  ${where}: ${e.message}`);
  }
  if (problem.retryAfter !== undefined) lines.push(`  retry after ${problem.retryAfter} s`);
  return lines;
}

/** A dry run's plan in short: what would be created, whether it fits the quotas, what it would cost. */
export function planLines(answer: Record<string, unknown>): string[] {
  // POST /platforms?dryRun=true answers { dryRun: true, plan }.
  const plan = (answer.plan ?? answer) as Record<string, unknown>;
  const lines = [`Plan for ${String(plan.id)} in ${String(plan.location)} (nothing was created):`];
  const azure = Array.isArray(plan.azure) ? (plan.azure as { type?: string; name?: string }[]) : [];
  for (const r of azure) lines.push(`  ${r.type}  ${r.name}`);
  if (Array.isArray(plan.kubernetes)) lines.push(`  ${plan.kubernetes.length} Kubernetes objects`);
  const admission = plan.admission as
    { fits?: boolean; quotas?: { localizedName?: string; name?: string; missing?: number }[] } | undefined;
  if (admission) {
    const short = (admission.quotas ?? []).filter((q) => (q.missing ?? 0) > 0);
    lines.push(
      `quotas: ${admission.fits ? 'fits' : `does not fit (${short.map((q) => `${q.localizedName ?? q.name}: ${q.missing} missing`).join(', ')})`}`,
    );
  }
  const cost = plan.cost as
    { currency?: string; perHour?: { running?: number; stopped?: number } } | undefined;
  if (cost?.perHour)
    lines.push(
      `cost per hour: ${cost.perHour.running} ${cost.currency ?? 'USD'} running, ${cost.perHour.stopped} stopped`,
    );
  return lines;
}
