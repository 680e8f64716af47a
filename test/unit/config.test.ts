import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, SETTINGS, loadConfig } from '../../src/config.js';
import { DEFAULT_ALLOWED_LOCATIONS } from '../../src/platform/catalog.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const REQUIRED = ['AzureWebJobsStorage', 'AZURE_SUBSCRIPTION_ID', 'KEY_VAULT_URL'] as const;
const minimalEnv = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  AZURE_SUBSCRIPTION_ID: '11111111-2222-3333-4444-555555555555',
  KEY_VAULT_URL: 'https://kv-test.vault.azure.net',
};

/** The ConfigError that loadConfig throws for env (fails the test if it does not throw one). */
function configErrorFor(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

/** The settings named by the problems of a ConfigError, in order. */
const settingsNamed = (error: ConfigError) =>
  error.problems.map((problem) => Object.keys(SETTINGS).find((name) => problem.startsWith(`${name} `)));

function readExampleValues(): Record<string, string> {
  const example = JSON.parse(readFileSync(join(repoRoot, 'local.settings.example.json'), 'utf8')) as {
    Values: Record<string, string>;
  };
  return example.Values;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : entry.isFile() ? [join(dir, entry.name)] : [],
  );
}

describe('loadConfig', () => {
  it('gives the documented defaults for a minimal environment', () => {
    expect(loadConfig(minimalEnv)).toEqual({
      storage: { kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' },
      subscriptionId: '11111111-2222-3333-4444-555555555555',
      subscriptionIds: ['11111111-2222-3333-4444-555555555555'],
      keyVaultUrl: 'https://kv-test.vault.azure.net',
      taskHub: 'llmplatforms',
      registryTable: 'platforms',
      autoStopSchedule: '0 */5 * * * *',
      defaultIdleMinutes: 60,
      allowedLocations: [...DEFAULT_ALLOWED_LOCATIONS],
      maintenanceWindow: { day: 'Sunday', startTime: '02:00', durationHours: 4 },
      aksClustersPerRegion: 100,
      authEnabled: false,
    });
  });

  it.each([
    ['True', true],
    ['true', true],
    ['False', false],
  ])('reads WEBSITE_AUTH_ENABLED=%j (App Service sets True when its authentication is on)', (value, on) => {
    expect(loadConfig({ ...minimalEnv, WEBSITE_AUTH_ENABLED: value }).authEnabled).toBe(on);
  });

  it('rejects a WEBSITE_AUTH_ENABLED other than True or False', () => {
    expect(settingsNamed(configErrorFor({ ...minimalEnv, WEBSITE_AUTH_ENABLED: 'yes' }))).toEqual([
      'WEBSITE_AUTH_ENABLED',
    ]);
  });

  it("reaches storage with the app's identity given only AzureWebJobsStorage__accountName (no key)", () => {
    const { AzureWebJobsStorage: _connectionString, ...rest } = minimalEnv;
    expect(loadConfig({ ...rest, AzureWebJobsStorage__accountName: 'stllmapi01' }).storage).toEqual({
      kind: 'identity',
      tableEndpoint: 'https://stllmapi01.table.core.windows.net',
    });
    expect(
      settingsNamed(configErrorFor({ ...rest, AzureWebJobsStorage__accountName: 'Not_An_Account' })),
    ).toEqual(['AzureWebJobsStorage']);
  });

  it('names all three required settings at once when the environment is empty', () => {
    const error = configErrorFor({});
    expect(error.problems).toHaveLength(3);
    expect(settingsNamed(error)).toEqual([...REQUIRED]);
  });

  it('treats blank required settings as missing', () => {
    const error = configErrorFor({
      AzureWebJobsStorage: '  ',
      AZURE_SUBSCRIPTION_ID: '',
      KEY_VAULT_URL: '\t',
    });
    expect(settingsNamed(error)).toEqual([...REQUIRED]);
  });

  it('reports every invalid value, all together', () => {
    const error = configErrorFor({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      AZURE_SUBSCRIPTION_ID: 'not-a-uuid',
      KEY_VAULT_URL: 'http://kv-test.vault.azure.net',
      DEFAULT_IDLE_MINUTES: '10',
      DURABLE_TASK_HUB: 'llm-platforms',
      REGISTRY_TABLE: '1platforms',
      ALLOWED_LOCATIONS: 'eastus,west europe',
      AUTO_STOP_SCHEDULE: '*/5 * * * *',
      AKS_MAINTENANCE_WINDOW: 'Sunday 2am',
    });
    expect(new Set(settingsNamed(error))).toEqual(
      new Set([
        'AZURE_SUBSCRIPTION_ID',
        'KEY_VAULT_URL',
        'DEFAULT_IDLE_MINUTES',
        'DURABLE_TASK_HUB',
        'REGISTRY_TABLE',
        'ALLOWED_LOCATIONS',
        'AUTO_STOP_SCHEDULE',
        'AKS_MAINTENANCE_WINDOW',
      ]),
    );
    expect(error.problems).toHaveLength(8);
    expect(error.problems.find((p) => p.startsWith('ALLOWED_LOCATIONS'))).toContain('west europe');
  });

  it.each(['10', '1441', 'abc', '-5', '14', '1.5', '60 minutes'])(
    'rejects DEFAULT_IDLE_MINUTES=%j',
    (value) => {
      expect(settingsNamed(configErrorFor({ ...minimalEnv, DEFAULT_IDLE_MINUTES: value }))).toEqual([
        'DEFAULT_IDLE_MINUTES',
      ]);
    },
  );

  it.each([
    ['0', 0],
    ['15', 15],
    ['1440', 1440],
  ])('accepts DEFAULT_IDLE_MINUTES=%j', (value, expected) => {
    expect(loadConfig({ ...minimalEnv, DEFAULT_IDLE_MINUTES: value }).defaultIdleMinutes).toBe(expected);
  });

  it.each(['0 */5 * * *', '0 */5 * * * * *', 'every five minutes', '0 */5 * * * ?x'])(
    'rejects AUTO_STOP_SCHEDULE=%j (not six NCRONTAB fields)',
    (value) => {
      expect(settingsNamed(configErrorFor({ ...minimalEnv, AUTO_STOP_SCHEDULE: value }))).toEqual([
        'AUTO_STOP_SCHEDULE',
      ]);
    },
  );

  it.each([
    'Sunday 02:00',
    'Sunday 02:00 3h',
    'Sunday 02:00 25h',
    'Sun 02:00 4h',
    'Sunday 24:00 4h',
    'Sunday 2:00 4h',
    'Sunday 02:60 4h',
    'Sunday 02:00 4',
  ])('rejects AKS_MAINTENANCE_WINDOW=%j', (value) => {
    expect(settingsNamed(configErrorFor({ ...minimalEnv, AKS_MAINTENANCE_WINDOW: value }))).toEqual([
      'AKS_MAINTENANCE_WINDOW',
    ]);
  });

  it.each([
    ['saturday 23:30 6h', { day: 'Saturday', startTime: '23:30', durationHours: 6 }],
    [' Wednesday 00:00 24h ', { day: 'Wednesday', startTime: '00:00', durationHours: 24 }],
  ])('accepts AKS_MAINTENANCE_WINDOW=%j', (value, expected) => {
    expect(loadConfig({ ...minimalEnv, AKS_MAINTENANCE_WINDOW: value }).maintenanceWindow).toEqual(expected);
  });

  it('rejects an ALLOWED_LOCATIONS that names no region', () => {
    expect(settingsNamed(configErrorFor({ ...minimalEnv, ALLOWED_LOCATIONS: ' , ,' }))).toEqual([
      'ALLOWED_LOCATIONS',
    ]);
  });

  it('trims, lower-cases and de-duplicates ALLOWED_LOCATIONS', () => {
    const config = loadConfig({
      ...minimalEnv,
      ALLOWED_LOCATIONS: ' EastUS , westeurope,eastus,, WestEurope ,uksouth ',
    });
    expect(config.allowedLocations).toEqual(['eastus', 'westeurope', 'uksouth']);
  });

  it('returns a frozen config, allowedLocations included', () => {
    const config = loadConfig(minimalEnv);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.allowedLocations)).toBe(true);
    expect(() => {
      (config as { taskHub: string }).taskHub = 'other';
    }).toThrow(TypeError);
  });

  it('puts each problem in the ConfigError message', () => {
    const error = configErrorFor({
      AZURE_SUBSCRIPTION_ID: 'nope',
      DEFAULT_IDLE_MINUTES: 'abc',
      REGISTRY_TABLE: 'x',
    });
    expect(error.name).toBe('ConfigError');
    expect(error.problems.length).toBeGreaterThanOrEqual(4);
    for (const problem of error.problems) expect(error.message).toContain(problem);
  });
});

describe('settings documentation', () => {
  it("SETTINGS lists exactly the keys of local.settings.example.json's Values, other than FUNCTIONS_WORKER_RUNTIME", () => {
    const documented = Object.keys(readExampleValues()).filter((key) => key !== 'FUNCTIONS_WORKER_RUNTIME');
    expect([...documented].sort()).toEqual(Object.keys(SETTINGS).sort());
  });

  it("loadConfig accepts local.settings.example.json's Values as they are", () => {
    const config = loadConfig(readExampleValues());
    expect(config.allowedLocations).toEqual([...DEFAULT_ALLOWED_LOCATIONS]);
  });

  // The CLI's entry is another program (package.json bin, not loaded by the app): it reads its own settings.
  it('no file under src/ other than src/config.ts (and the CLI’s entry) contains process.env', () => {
    const srcDir = join(repoRoot, 'src');
    const offenders = filesUnder(srcDir)
      .filter((file) => !['config.ts', 'cli/main.ts'].includes(relative(srcDir, file).split(sep).join('/')))
      .filter((file) => readFileSync(file, 'utf8').includes('process.env'))
      .map((file) => relative(repoRoot, file));
    expect(offenders).toEqual([]);
  });
});
