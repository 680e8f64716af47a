/**
 * The app's settings, read from the environment once and validated together: a misconfigured app fails at
 * start-up with one message that lists every missing or invalid setting, instead of failing later on the
 * first request that happens to need one. No other module reads process.env.
 */
import { DEFAULT_ALLOWED_LOCATIONS } from './platform/catalog.js';
import {
  DEFAULT_MAINTENANCE_WINDOW,
  MAINTENANCE_WINDOW_RULE,
  parseMaintenanceWindow,
  type MaintenanceWindow,
} from './platform/maintenance.js';
import { isValidIdleMinutes } from './platform/policy.js';

/**
 * How the app reaches its storage account: a connection string (Azurite locally), or, deployed, the account
 * name alone with the app's managed identity, the Functions host's identity-based form of the same
 * connection (`AzureWebJobsStorage__accountName`): no account key in the app's settings.
 */
export type StorageConnection =
  { kind: 'connectionString'; connectionString: string } | { kind: 'identity'; tableEndpoint: string };

export interface Config {
  /** Storage for the durable task hub and the platform registry. */
  storage: StorageConnection;
  registryTable: string;
  taskHub: string;
  /** The default subscription: the pool's first; records without a subscription live here. */
  subscriptionId: string;
  /**
   * The pool of subscriptions new platforms are placed in, the default first (AZURE_SUBSCRIPTION_IDS, else
   * AZURE_SUBSCRIPTION_ID alone).
   */
  subscriptionIds: readonly string[];
  keyVaultUrl: string;
  allowedLocations: readonly string[];
  /** NCRONTAB (six fields, seconds first) of the idle sweep. */
  autoStopSchedule: string;
  defaultIdleMinutes: number;
  /** The weekly UTC window of every cluster's auto-upgrades (AKS refuses writes while one runs). */
  maintenanceWindow: MaintenanceWindow;
  /** AKS clusters the subscription may hold per region (admission refuses a platform beyond it). */
  aksClustersPerRegion: number;
  /**
   * App Service Authentication is on (App Service sets WEBSITE_AUTH_ENABLED=True then): only then is the
   * caller header trustworthy, so only then can a platform route identify a caller.
   */
  authEnabled: boolean;
  /**
   * Object id of the API's own identity, granted Kubernetes access on every cluster it creates; undefined:
   * the `oid` of the token its credential returns.
   */
  apiPrincipalId?: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Every setting the app reads, with what it is for; local.settings.example.json and the README list the same. */
export const SETTINGS = {
  AzureWebJobsStorage:
    'Storage for the Functions host, the durable task hub and the platform registry: a connection string, or ' +
    'AzureWebJobsStorage__accountName (the account reached with the managed identity).',
  AZURE_SUBSCRIPTION_ID:
    'Subscription (UUID) in which platforms are created; the default of the pool when AZURE_SUBSCRIPTION_IDS is set (then it must be its first, or unset).',
  AZURE_SUBSCRIPTION_IDS:
    "Comma-separated pool of subscriptions (UUIDs) new platforms are placed in, the default first: each goes to the first with room in its region. The app's identity needs its roles in each. Default: AZURE_SUBSCRIPTION_ID alone.",
  KEY_VAULT_URL: "The API's Key Vault (https://<name>.vault.azure.net) holding each platform's secrets.",
  DURABLE_TASK_HUB: 'Durable Functions task hub name (host.json reads it). Default: llmplatforms.',
  REGISTRY_TABLE: 'Table holding the platform registry. Default: platforms.',
  ALLOWED_LOCATIONS:
    'Comma-separated Azure regions a platform may be created in. Default: regions offering NCasT4_v3.',
  AUTO_STOP_SCHEDULE: 'NCRONTAB of the idle sweep. Default: 0 */5 * * * * (every 5 minutes).',
  DEFAULT_IDLE_MINUTES: 'Idle minutes before auto-stop when a request gives none; 0 = never. Default: 60.',
  AKS_CLUSTERS_PER_REGION:
    "AKS clusters the subscription may hold per region; admission refuses a platform beyond it. Default: 100 (AKS's published default; raise it with the subscription's quota).",
  AKS_MAINTENANCE_WINDOW: `Weekly UTC window of every cluster's auto-upgrades. Default: ${DEFAULT_MAINTENANCE_WINDOW}.`,
  WEBSITE_AUTH_ENABLED:
    'Set by App Service when App Service Authentication is on (True/False). Platform routes need it on: they read the caller from it. Default: False.',
  API_PRINCIPAL_ID:
    "Object id (UUID) of the API's identity (the Function App's managed identity), granted Azure Kubernetes Service RBAC Cluster Admin on each cluster. Default: the oid of the credential's token.",
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The identity-based form of the AzureWebJobsStorage connection: the Functions host reads a connection
 * named X from setting X (a connection string) or from settings X__accountName, X__credential, … .
 */
export const STORAGE_ACCOUNT_SETTING = 'AzureWebJobsStorage__accountName';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LOCATION = /^[a-z][a-z0-9]{2,39}$/;
// Task hub names: 3–50 characters, letters and digits only, starting with a letter (Durable Functions docs).
const TASK_HUB = /^[A-Za-z][A-Za-z0-9]{2,49}$/;
// Storage account names: 3–24 lower-case letters and digits.
const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
// Azure Table names: 3–63 alphanumerics, not starting with a digit.
const TABLE = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
// Six whitespace-separated NCRONTAB fields built from digits, `*`, `/`, `,`, `-` (names such as MON are allowed).
const NCRONTAB = /^(\S+\s+){5}\S+$/;
const NCRONTAB_FIELD = /^[0-9A-Za-z*/,-]+$/;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const text = (name: keyof typeof SETTINGS, fallback?: string): string => {
    const value = env[name]?.trim();
    if (value) return value;
    if (fallback === undefined) problems.push(`${name} is required: ${SETTINGS[name]}`);
    return fallback ?? '';
  };
  const check = (name: string, ok: boolean, rule: string) => {
    if (!ok) problems.push(`${name} ${rule}`);
  };

  const storage = storageConnection(env, problems);
  const pool = text('AZURE_SUBSCRIPTION_IDS', '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const single = pool.length > 0 ? text('AZURE_SUBSCRIPTION_ID', '') : text('AZURE_SUBSCRIPTION_ID');
  if (single) check('AZURE_SUBSCRIPTION_ID', UUID.test(single), 'must be a UUID');
  const badIds = pool.filter((s) => !UUID.test(s));
  check(
    'AZURE_SUBSCRIPTION_IDS',
    badIds.length === 0,
    `has entries that are not UUIDs: ${badIds.join(', ')}`,
  );
  check('AZURE_SUBSCRIPTION_IDS', new Set(pool).size === pool.length, 'names a subscription twice');
  check(
    'AZURE_SUBSCRIPTION_ID',
    !single || pool.length === 0 || pool[0] === single.toLowerCase(),
    'must be the first of AZURE_SUBSCRIPTION_IDS (the default) when both are set',
  );
  const subscriptionIds = pool.length > 0 ? pool : [single.toLowerCase()];
  const subscriptionId = subscriptionIds[0] ?? '';

  const keyVaultUrl = text('KEY_VAULT_URL');
  if (keyVaultUrl) check('KEY_VAULT_URL', isHttpsUrl(keyVaultUrl), 'must be an https:// URL');

  const taskHub = text('DURABLE_TASK_HUB', 'llmplatforms');
  check('DURABLE_TASK_HUB', TASK_HUB.test(taskHub), 'must be 3–50 letters or digits, starting with a letter');

  const registryTable = text('REGISTRY_TABLE', 'platforms');
  check(
    'REGISTRY_TABLE',
    TABLE.test(registryTable),
    'must be 3–63 letters or digits, starting with a letter',
  );

  const allowedLocations = text('ALLOWED_LOCATIONS', DEFAULT_ALLOWED_LOCATIONS.join(','))
    .split(',')
    .map((l) => l.trim().toLowerCase())
    .filter(Boolean);
  const badLocations = allowedLocations.filter((l) => !LOCATION.test(l));
  check('ALLOWED_LOCATIONS', allowedLocations.length > 0, 'must name at least one region');
  check(
    'ALLOWED_LOCATIONS',
    badLocations.length === 0,
    `has invalid region names: ${badLocations.join(', ')}`,
  );

  const autoStopSchedule = text('AUTO_STOP_SCHEDULE', '0 */5 * * * *');
  check(
    'AUTO_STOP_SCHEDULE',
    NCRONTAB.test(autoStopSchedule) && autoStopSchedule.split(/\s+/).every((f) => NCRONTAB_FIELD.test(f)),
    'must be an NCRONTAB expression with six fields ({second} {minute} {hour} {day} {month} {day-of-week})',
  );

  const idleText = text('DEFAULT_IDLE_MINUTES', '60');
  const defaultIdleMinutes = /^\d+$/.test(idleText) ? Number(idleText) : NaN;
  check(
    'DEFAULT_IDLE_MINUTES',
    isValidIdleMinutes(defaultIdleMinutes),
    'must be 0 (never) or an integer from 15 to 1440',
  );

  const maintenanceWindow = parseMaintenanceWindow(
    text('AKS_MAINTENANCE_WINDOW', DEFAULT_MAINTENANCE_WINDOW),
  );
  check('AKS_MAINTENANCE_WINDOW', maintenanceWindow !== undefined, MAINTENANCE_WINDOW_RULE);

  // AKS limits: 100 clusters per subscription and region by default, more on request
  // (azure-real-behaviours §3.3, "AKS clusters"); no API reports the raised figure, so it is a setting.
  const clustersText = text('AKS_CLUSTERS_PER_REGION', '100');
  const aksClustersPerRegion = /^\d+$/.test(clustersText) ? Number(clustersText) : NaN;
  check('AKS_CLUSTERS_PER_REGION', aksClustersPerRegion >= 1, 'must be a positive integer');

  const authText = text('WEBSITE_AUTH_ENABLED', 'False').toLowerCase();
  check('WEBSITE_AUTH_ENABLED', authText === 'true' || authText === 'false', 'must be True or False');
  const apiPrincipalId = text('API_PRINCIPAL_ID', '');
  if (apiPrincipalId) check('API_PRINCIPAL_ID', UUID.test(apiPrincipalId), 'must be a UUID');

  if (problems.length > 0 || !maintenanceWindow) throw new ConfigError(problems);
  return Object.freeze({
    storage: Object.freeze(storage),
    registryTable,
    taskHub,
    subscriptionId,
    subscriptionIds: Object.freeze(subscriptionIds),
    keyVaultUrl: keyVaultUrl.replace(/\/+$/, ''),
    allowedLocations: Object.freeze([...new Set(allowedLocations)]),
    autoStopSchedule,
    defaultIdleMinutes,
    maintenanceWindow: Object.freeze(maintenanceWindow),
    aksClustersPerRegion,
    authEnabled: authText === 'true',
    ...(apiPrincipalId ? { apiPrincipalId: apiPrincipalId.toLowerCase() } : {}),
  });
}

function storageConnection(env: Env, problems: string[]): StorageConnection {
  const connectionString = env.AzureWebJobsStorage?.trim();
  if (connectionString) return { kind: 'connectionString', connectionString };
  const account = env[STORAGE_ACCOUNT_SETTING]?.trim();
  if (!account) {
    problems.push(`AzureWebJobsStorage is required: ${SETTINGS.AzureWebJobsStorage}`);
    return { kind: 'connectionString', connectionString: '' };
  }
  if (!STORAGE_ACCOUNT.test(account))
    problems.push(`AzureWebJobsStorage ${STORAGE_ACCOUNT_SETTING} must be 3–24 lower-case letters or digits`);
  // Like the Functions host for __accountName: the public cloud's endpoint.
  return { kind: 'identity', tableEndpoint: `https://${account}.table.core.windows.net` };
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}
