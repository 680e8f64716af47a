/**
 * The planned maintenance window of every cluster's auto-upgrades. The cluster upgrades itself (its
 * `autoUpgradeProfile` channels), and while an upgrade runs AKS refuses every write, stop included; without a
 * window AKS picks the time. The `aksManagedAutoUpgradeSchedule` maintenance configuration confines the
 * upgrades to a weekly window the operator sets (AKS_MAINTENANCE_WINDOW), outside office hours by default
 * (https://learn.microsoft.com/azure/aks/planned-maintenance; azure-real-behaviours, F4). Pure: the setting's
 * grammar, the wire body, and whether a live configuration already says the same.
 */

export const WEEK_DAYS = [
  'Sunday',
  'Monday',
  'Tuesday',
  'Wednesday',
  'Thursday',
  'Friday',
  'Saturday',
] as const;
export type WeekDay = (typeof WEEK_DAYS)[number];

/** A weekly window in UTC. */
export interface MaintenanceWindow {
  day: WeekDay;
  /** HH:MM, UTC. */
  startTime: string;
  /** AKS accepts 4 to 24 hours. */
  durationHours: number;
}

/** The maintenance configuration that schedules the cluster's auto-upgrades (AKS's fixed name). */
export const AUTO_UPGRADE_SCHEDULE = 'aksManagedAutoUpgradeSchedule';
export const MAINTENANCE_CONFIGURATION_TYPE =
  'Microsoft.ContainerService/managedClusters/maintenanceConfigurations';

/** Sunday night, when no one uses a platform. */
export const DEFAULT_MAINTENANCE_WINDOW = 'Sunday 02:00 4h';
export const MAINTENANCE_WINDOW_RULE =
  'must be "<weekday> <HH:MM> <hours>h" in UTC with 4 to 24 hours, e.g. "Sunday 02:00 4h"';

const GRAMMAR = /^([A-Za-z]+)\s+([01]\d|2[0-3]):([0-5]\d)\s+(\d{1,2})h$/;

/** Reads the setting's text; undefined when it does not follow MAINTENANCE_WINDOW_RULE. */
export function parseMaintenanceWindow(text: string): MaintenanceWindow | undefined {
  const match = GRAMMAR.exec(text.trim());
  if (!match) return undefined;
  const [, dayText, hours, minutes, duration] = match;
  const day = WEEK_DAYS.find((d) => d.toLowerCase() === dayText!.toLowerCase());
  const durationHours = Number(duration);
  if (!day || durationHours < 4 || durationHours > 24) return undefined;
  return { day, startTime: `${hours}:${minutes}`, durationHours };
}

export const describeMaintenanceWindow = (w: MaintenanceWindow) =>
  `every ${w.day} ${w.startTime} UTC, ${w.durationHours} h`;

/** The configuration's properties as the 2026-04-01 REST API (and the SDK's model) define them. */
export function maintenanceConfiguration(w: MaintenanceWindow) {
  return {
    maintenanceWindow: {
      schedule: { weekly: { intervalWeeks: 1, dayOfWeek: w.day } },
      durationHours: w.durationHours,
      startTime: w.startTime,
      utcOffset: '+00:00',
    },
  };
}

/** What a live configuration's window holds, as far as this API sets it. */
export interface LiveMaintenanceWindow {
  schedule?: {
    weekly?: { intervalWeeks?: number; dayOfWeek?: string };
    daily?: unknown;
    absoluteMonthly?: unknown;
    relativeMonthly?: unknown;
  };
  durationHours?: number;
  startTime?: string;
  utcOffset?: string;
  startDate?: unknown;
  notAllowedDates?: unknown[];
}

/** True when the live window is exactly the wanted one (anything else of ours would be overwritten). */
export function sameMaintenanceWindow(
  live: LiveMaintenanceWindow | undefined,
  w: MaintenanceWindow,
): boolean {
  if (!live) return false;
  const schedules = Object.entries(live.schedule ?? {}).filter(([, v]) => v !== undefined && v !== null);
  return (
    schedules.length === 1 &&
    live.schedule?.weekly?.dayOfWeek === w.day &&
    live.schedule.weekly.intervalWeeks === 1 &&
    live.durationHours === w.durationHours &&
    live.startTime === w.startTime &&
    (live.utcOffset ?? '+00:00') === '+00:00' &&
    live.startDate === undefined &&
    (live.notAllowedDates ?? []).length === 0
  );
}
