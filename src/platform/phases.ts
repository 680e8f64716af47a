/**
 * A platform's lifecycle: its phases, the flows that move it between them, and which phase each flow may
 * start from. The service guards every request with these rules; the status and the idle sweep read the
 * same sets, so a new phase is placed once.
 */

export const PHASES = [
  /**
   * Accepted, waiting for room: it does not fit its subscription and region now, but will once the platforms
   * being deleted there are gone. No flow runs and nothing exists in Azure; it leaves for Pending (admitted
   * when a delete completes, or at the idle sweep), for Failed (the deletions ended and it still does not
   * fit), or for Deleted (DELETE removes it at once).
   */
  'Queued',
  'Pending',
  'Provisioning',
  'Configuring',
  'Ready',
  'Failed',
  'Stopping',
  'Stopped',
  'Starting',
  'Updating',
  'Deleting',
  'Deleted',
] as const;
export type Phase = (typeof PHASES)[number];

/** The flows that run as orchestrations, one at a time per platform. */
export type Operation = 'provision' | 'stop' | 'start' | 'update' | 'wipe' | 'delete';

/** The phases the idle sweep looks at: every other phase has a flow running, or none ever will again. */
export const SWEPT_PHASES = ['Ready', 'Stopped'] as const satisfies readonly Phase[];
export type SweptPhase = (typeof SWEPT_PHASES)[number];
export const isSwept = (phase: Phase): phase is SweptPhase =>
  (SWEPT_PHASES as readonly Phase[]).includes(phase);

/** Phases no flow runs in: steps a terminated flow left `running` there are not overdue. */
export const SETTLED_PHASES: readonly Phase[] = [...SWEPT_PHASES, 'Queued', 'Failed', 'Deleted'];

/** A platform being or already deleted: it can no longer be changed, and a delete has nothing to start. */
export const DELETION_PHASES: readonly Phase[] = ['Deleting', 'Deleted'];

/** Operations a bare POST (or DELETE) starts; provision and update carry a body. */
export type Transition = Exclude<Operation, 'provision' | 'update'>;

/** Which phases an operation may start from; `idempotent` phases answer 202 without starting anything. */
export interface TransitionRule {
  from: readonly Phase[];
  to: Phase;
  idempotent: readonly Phase[];
}

export const TRANSITIONS: Record<Transition, TransitionRule> = {
  stop: { from: ['Ready'], to: 'Stopping', idempotent: ['Stopping', 'Stopped'] },
  start: { from: ['Stopped'], to: 'Starting', idempotent: ['Starting', 'Ready'] },
  // Wiping twice in a row is two wipes, not one: a second request while one runs is refused.
  wipe: { from: ['Ready'], to: 'Updating', idempotent: [] },
  // A delete wins over whatever runs.
  delete: {
    from: PHASES.filter((phase) => !DELETION_PHASES.includes(phase)),
    to: 'Deleting',
    idempotent: DELETION_PHASES,
  },
};

/** The idle sweep stops a Stopped platform again when Azure restarted its PostgreSQL server by itself. */
export const RESTOP: TransitionRule = { from: ['Stopped'], to: 'Stopping', idempotent: ['Stopping'] };

/**
 * What `retry` runs for a Failed platform, by the operation that failed, and the phase it moves to. Each
 * flow is idempotent, so it runs again from the start. A failed update is converged by provisioning (which
 * applies the recorded spec); a failed wipe runs the wipe again (its database may already be dropped); a
 * failed stop or start runs that operation again: provisioning would leave a half-stopped platform as it is
 * (AKS stopped, PostgreSQL still running and billed, or the reverse).
 */
export const RETRIED_AS: Record<Operation, { operation: Operation; phase: Phase }> = {
  provision: { operation: 'provision', phase: 'Pending' },
  update: { operation: 'provision', phase: 'Pending' },
  wipe: { operation: 'wipe', phase: 'Updating' },
  stop: { operation: 'stop', phase: TRANSITIONS.stop.to },
  start: { operation: 'start', phase: TRANSITIONS.start.to },
  delete: { operation: 'delete', phase: TRANSITIONS.delete.to },
};
