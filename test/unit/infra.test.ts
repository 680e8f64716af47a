/**
 * The deployment template (infra/*.bicep, azure.yaml) against the code and against Azure's API schemas,
 * read as data (test/support/bicep.ts): the app settings it writes are the ones src/config.ts reads, its
 * anonymous paths are the app's anonymous routes, the roles it grants cover what the flows call, and every
 * resource body sets only properties its api-version has (test/support/arm-schemas.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SETTINGS, STORAGE_ACCOUNT_SETTING, loadConfig } from '../../src/config.js';
import { ROLES } from '../../src/platform/access.js';
import { AZURE_RESOURCES } from '../../src/platform/azure-resources.js';
import { DEFAULT_ALLOWED_LOCATIONS } from '../../src/platform/catalog.js';
import { appEntryFiles } from '../../sandbox/app.js';
import { getRegistrations, installFunctionsCore } from '../../sandbox/host.js';
import {
  mapperSchemas,
  packageRoot,
  typeSpecApiVersion,
  typeSpecSchemas,
  unknownProperties,
  type Shape,
} from '../support/arm-schemas.js';
import {
  BicepExpression,
  parseBicep,
  type BicepFile,
  type BicepResource,
  type BicepValue,
} from '../support/bicep.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const main = parseBicep(read('infra/main.bicep'));
const app = parseBicep(read('infra/app.bicep'));
/** The API's roles on one subscription: main.bicep's own, and what each further subscription of the pool gets. */
const access = parseBicep(read('infra/subscription-access.bicep'));
/** The file that defines a resource (its vars name the built-in roles). */
const fileOf = (r: BicepResource) => [main, app, access].find((f) => f.resources.includes(r))!;

const resource = (file: BicepFile, type: string, name?: string): BicepResource => {
  const found = file.resources.filter((r) => r.type === type && (name === undefined || r.body.name === name));
  expect(found, `${type} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
};
const object = (value: BicepValue | undefined): Record<string, BicepValue> => {
  expect(value).toBeTypeOf('object');
  return value as Record<string, BicepValue>;
};
const text = (value: BicepValue | undefined) =>
  value instanceof BicepExpression ? value.text : JSON.stringify(value);

/** Settings the Functions host reads itself (src/config.ts does not): why each is in the template. */
const HOST_SETTINGS = {
  AzureWebJobsStorage__credential: 'the host reaches AzureWebJobsStorage with the managed identity',
  APPLICATIONINSIGHTS_CONNECTION_STRING: "the host's telemetry to Application Insights",
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type:
    "host.json's durable backend, per deployment (durableBackend)",
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName:
    'the setting that names the durable backend',
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: "the Durable Task Scheduler's endpoint, reached by identity",
};

const appSettings = () => object(resource(app, 'Microsoft.Web/sites/config', 'appsettings').body.properties);

/** Settings src/config.ts reads that App Service sets itself: the template must not write them. */
const PLATFORM_SETTINGS = {
  WEBSITE_AUTH_ENABLED: 'App Service sets it to True when its authentication is on (authsettingsV2 below)',
};

describe('app settings', () => {
  it('are every setting src/config.ts reads (storage in its identity-based form) and the host’s own, no more', () => {
    // The deployed app reaches storage with its identity: AzureWebJobsStorage's __accountName form.
    const fromCode = Object.keys(SETTINGS)
      .filter((name) => !(name in PLATFORM_SETTINGS))
      .map((name) => (name === 'AzureWebJobsStorage' ? STORAGE_ACCOUNT_SETTING : name));
    expect(Object.keys(appSettings()).sort()).toEqual([...fromCode, ...Object.keys(HOST_SETTINGS)].sort());
  });

  it('carry no storage key: no connection string, and the account refuses shared keys', () => {
    const settings = appSettings();
    expect(settings).not.toHaveProperty('AzureWebJobsStorage');
    for (const value of Object.values(settings)) expect(text(value)).not.toMatch(/AccountKey|listKeys/i);
    const storage = resource(app, 'Microsoft.Storage/storageAccounts');
    expect(object(storage.body.properties).allowSharedKeyAccess).toBe(false);
    expect(text(settings[STORAGE_ACCOUNT_SETTING])).toBe(`${storage.symbol}.name`);
  });

  it('are accepted by loadConfig, and the literal ones are the code’s defaults', () => {
    // What the references resolve to in Azure, in the shape Azure gives them.
    const resolved: Record<string, string> = {
      'storage.name': 'stabcdef123',
      'subscription().subscriptionId': '11111111-2222-3333-4444-555555555555',
      // Without further subscriptions (poolSubscriptionIds' default), the pool is this one alone.
      "empty(poolSubscriptionIds) ? '' : '${subscription().subscriptionId},${poolSubscriptionIds}'": '',
      'vault.properties.vaultUri': 'https://kv-abcdef123.vault.azure.net/',
      allowedLocations: main.params.get('allowedLocations')!.defaultValue as string,
      'insights.properties.ConnectionString': 'InstrumentationKey=…',
      'functionApp.identity.principalId': '66666666-7777-4888-9999-000000000000',
      taskHubName: app.vars.get('taskHubName') as string,
    };
    const env = Object.fromEntries(
      Object.entries(appSettings())
        .filter(([name]) => !(name in HOST_SETTINGS))
        .map(([name, value]) => [
          name,
          value instanceof BicepExpression ? resolved[value.text] : String(value),
        ]),
    );
    for (const [name, value] of Object.entries(env)) expect(value, name).toBeTypeOf('string');
    const deployed = loadConfig(env);
    const defaults = loadConfig({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      AZURE_SUBSCRIPTION_ID: env.AZURE_SUBSCRIPTION_ID,
      KEY_VAULT_URL: env.KEY_VAULT_URL,
    });
    expect({ ...deployed, storage: undefined, apiPrincipalId: undefined }).toEqual({
      ...defaults,
      storage: undefined,
    });
    expect(deployed.apiPrincipalId).toBe('66666666-7777-4888-9999-000000000000');
    expect(deployed.storage).toEqual({
      kind: 'identity',
      tableEndpoint: 'https://stabcdef123.table.core.windows.net',
    });
    expect(deployed.allowedLocations).toEqual([...DEFAULT_ALLOWED_LOCATIONS]);
  });
  it('the durable backend is one parameter: Azure Storage by default, or a Durable Task Scheduler reached by identity', () => {
    const param = main.params.get('durableBackend')!;
    expect(param.defaultValue).toBe('azureStorage');
    expect(param.decorators.join(' ')).toContain("@allowed(['azureStorage', 'durableTaskScheduler'])");
    expect(text(app.vars.get('useScheduler'))).toBe("durableBackend == 'durableTaskScheduler'");
    // host.json names no provider (Azure Storage on AzureWebJobsStorage); the settings override it per deployment.
    const host = JSON.parse(read('host.json')) as { extensions: { durableTask: Record<string, unknown> } };
    expect(host.extensions.durableTask).toEqual({ hubName: '%DURABLE_TASK_HUB%' });
    const settings = appSettings();
    const prefix = 'AzureFunctionsJobHost__extensions__durableTask__storageProvider__';
    expect(text(settings[`${prefix}type`])).toBe("useScheduler ? 'azureManaged' : 'AzureStorage'");
    expect(text(settings[`${prefix}connectionStringName`])).toBe(
      "useScheduler ? 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING' : 'AzureWebJobsStorage'",
    );
    expect(text(settings.DURABLE_TASK_SCHEDULER_CONNECTION_STRING)).toMatch(
      /^useScheduler \? 'Endpoint=\$\{scheduler\.properties\.endpoint\};Authentication=ManagedIdentity' : ''$/,
    );
    // The scheduler, its task hub (named as DURABLE_TASK_HUB) and the app's role on it exist only then.
    for (const symbol of ['scheduler', 'taskHub', 'durableTasks']) {
      const r = app.resources.find((x) => x.symbol === symbol)!;
      expect(r.condition?.text, symbol).toBe('useScheduler');
    }
    expect(text(app.resources.find((x) => x.symbol === 'taskHub')!.body.name)).toBe('taskHubName');
    expect(text(settings.DURABLE_TASK_HUB)).toBe('taskHubName');
    const appModule = main.modules.find((m) => m.symbol === 'app')!;
    for (const name of ['durableBackend', 'durableTaskSchedulerSku', 'durableTaskSchedulerCapacity'])
      expect(text(object(appModule.body.params)[name]), name).toBe(name);
  });
});

describe('endpoints and hardening', () => {
  beforeAll(async () => {
    installFunctionsCore();
    for (const file of appEntryFiles()) await import(pathToFileURL(file).href);
  });

  it("App Service Authentication lets through exactly the app's anonymous routes but the console, and requires a token elsewhere", () => {
    const { routePrefix } = (
      JSON.parse(read('host.json')) as { extensions: { http: { routePrefix: string } } }
    ).extensions.http;
    const anonymous = [...getRegistrations().values()]
      .filter((r) => r.trigger.type === 'httpTrigger' && (r.trigger.authLevel ?? 'anonymous') === 'anonymous')
      .map((r) => `/${[routePrefix, r.trigger.route ?? r.name].filter(Boolean).join('/')}`)
      .sort();
    expect(anonymous.length).toBeGreaterThan(0);
    // The console's page and assets need no function key (a browser opening a page cannot send one), but
    // they stay behind the sign-in like the API: only the health check and the OpenAPI document are public.
    const consoleRoutes = anonymous.filter((path) => /^\/console(\/|$)/.test(path));
    expect(consoleRoutes).toEqual(['/console', '/console/{*path}']);

    const auth = object(resource(app, 'Microsoft.Web/sites/config', 'authsettingsV2').body.properties);
    const validation = object(auth.globalValidation);
    expect(validation.requireAuthentication).toBe(true);
    expect(validation.unauthenticatedClientAction).toBe('Return401');
    const excluded = [...(validation.excludedPaths as string[])].sort();
    expect(excluded).toEqual(anonymous.filter((path) => !consoleRoutes.includes(path)));
    for (const path of excluded) expect(path).not.toMatch(/^\/console/);
    const entra = object(object(auth.identityProviders).azureActiveDirectory);
    expect(text(object(entra.registration).clientId)).toBe('authClientId');
    expect(object(auth.httpSettings).requireHttps).toBe(true);
  });

  it('is a Node 22 Function App on Flex Consumption, HTTPS only, TLS 1.2, no FTP, no basic publishing credentials', () => {
    const site = resource(app, 'Microsoft.Web/sites');
    const properties = object(site.body.properties);
    expect(properties.httpsOnly).toBe(true);
    expect(object(properties.siteConfig)).toMatchObject({
      minTlsVersion: '1.2',
      scmMinTlsVersion: '1.2',
      ftpsState: 'Disabled',
    });
    expect(object(object(properties.functionAppConfig).runtime)).toEqual({ name: 'node', version: '22' });
    expect(read('README.md')).toContain('Deployment runtime: **Node 22**');
    expect(object(resource(app, 'Microsoft.Web/serverfarms').body.sku)).toEqual({
      name: 'FC1',
      tier: 'FlexConsumption',
    });
    for (const name of ['ftp', 'scm'])
      expect(
        object(resource(app, 'Microsoft.Web/sites/basicPublishingCredentialsPolicies', name).body.properties),
      ).toEqual({ allow: false });
    const vault = object(resource(app, 'Microsoft.KeyVault/vaults').body.properties);
    expect(vault.enableRbacAuthorization).toBe(true);
    expect(text(vault.enablePurgeProtection)).toContain('keyVaultPurgeProtection');
  });

  it('azure.yaml deploys this app as a function to the site tagged with its service name', () => {
    const azure = parseYaml(read('azure.yaml')) as {
      infra: { provider: string; path: string; module: string };
      services: Record<string, { project: string; host: string; language: string }>;
    };
    expect(azure.infra).toEqual({ provider: 'bicep', path: 'infra', module: 'main' });
    expect(Object.keys(azure.services)).toEqual(['api']);
    expect(azure.services.api).toMatchObject({ project: '.', host: 'function' });
    expect(text(resource(app, 'Microsoft.Web/sites').body.tags)).toContain("'azd-service-name': 'api'");
    expect(main.targetScope).toBe('subscription');
    expect(main.modules.map((m) => m.path)).toEqual(['app.bicep', 'subscription-access.bicep']);
    // Every parameter of main.bicep without a default comes from azd's environment; one with a default may
    // too, falling back to that same default when the environment does not set it (`${NAME=default}`).
    const parameters = (
      JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: string }> }
    ).parameters;
    const required = [...main.params].filter(([, p]) => p.defaultValue === undefined).map(([name]) => name);
    expect(Object.keys(parameters).filter((name) => required.includes(name))).toEqual(required);
    for (const [name, { value }] of Object.entries(parameters).filter(([n]) => !required.includes(n))) {
      const fallback = /^\$\{[A-Z_]+=(.*)\}$/.exec(value)?.[1];
      expect(fallback, name).toBe(main.params.get(name)?.defaultValue);
    }
  });
});

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
/** The role definition id an assignment grants: a built-in role's GUID (through a var), or a custom role's symbol. */
function roleOf(file: BicepFile, assignment: BicepResource): string {
  const id = text(object(assignment.body.properties).roleDefinitionId);
  const variable = /, (\w+)\)$/.exec(id)?.[1];
  const value = variable ? file.vars.get(variable) : undefined;
  if (typeof value === 'string' && GUID.test(value)) return value;
  return id;
}

describe('roles of the app’s identity', () => {
  const assignments = [...main.resources, ...app.resources, ...access.resources].filter(
    (r) => r.type === 'Microsoft.Authorization/roleAssignments',
  );

  it('on a subscription of the pool are subscription-access.bicep: main.bicep deploys it for the app itself', () => {
    expect(access.targetScope).toBe('subscription');
    const module = main.modules.find((m) => m.path === 'subscription-access.bicep')!;
    expect(module.body.scope).toBeUndefined(); // main.bicep's own subscription
    const params = object(module.body.params);
    expect(text(params.principalId)).toBe('app.outputs.principalId');
    expect(text(params.environmentName)).toBe('environmentName');
    expect([...access.params.keys()].sort()).toEqual(['environmentName', 'principalId']);
    // A custom role's name is unique in the tenant the pool's subscriptions share: it names its subscription.
    const role = resource(access, 'Microsoft.Authorization/roleDefinitions');
    expect(text(object(role.body.properties).roleName)).toContain('subscription().subscriptionId');
  });

  it('each go to the app’s own identity, as a service principal', () => {
    expect(assignments.length).toBeGreaterThan(0);
    for (const a of assignments) {
      const properties = object(a.body.properties);
      expect(text(properties.principalId)).toMatch(
        /^(principalId|app\.outputs\.principalId|functionApp\.identity\.principalId)$/,
      );
      expect(properties.principalType).toBe('ServicePrincipal');
    }
  });

  it('are exactly: data roles on its storage and Key Vault, the provisioner role and the constrained RBAC role on the subscription', () => {
    const granted = assignments
      .map((a) => `${roleOf(fileOf(a), a)} @ ${text(a.body.scope ?? 'subscription')}`)
      .sort();
    expect(granted).toEqual(
      [
        'b7e6dc6d-f1e8-4753-8033-0f276bb0955b @ storage', // Storage Blob Data Owner: host leases, the package
        '974c5e8b-45b9-4653-ba55-5f855dd0fb88 @ storage', // Storage Queue Data Contributor: the task hub's queues
        '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3 @ storage', // Storage Table Data Contributor: task hub, registry
        'b86a8fe4-44ce-4948-aee5-eccb2c155cd7 @ vault', // Key Vault Secrets Officer: the platforms' secrets
        '0ad04412-c4d5-4796-b79c-f76d14c8d402 @ taskHub', // Durable Task Data Contributor, with the scheduler
        'provisionerRole.id @ "subscription"', // the custom role below
        'f58310d9-a9f6-439a-9e8d-f62e7b41a168 @ "subscription"', // RBAC Administrator, with a condition
      ].sort(),
    );
  });

  it('the custom role allows every ARM operation the flows perform, on the types of AZURE_RESOURCES', () => {
    const role = resource(access, 'Microsoft.Authorization/roleDefinitions');
    const permissions = object(role.body.properties).permissions as {
      actions: string[];
      notActions: string[];
    }[];
    const actions = permissions.flatMap((p) => p.actions);
    const allowed = (operation: string) =>
      actions.some((a) =>
        new RegExp(`^${a.replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`, 'i').test(operation),
      );
    const performed = [
      ...Object.values(AZURE_RESOURCES).flatMap(({ type }) =>
        ['read', 'write', 'delete'].map((v) => `${type}/${v}`),
      ),
      // Beyond the table's PUTs (src/activities/azure.ts, postgres.ts): resource groups and their deletion's
      // status, children of the resources, power, credentials, and the cluster's outbound IPs.
      'Microsoft.Resources/subscriptions/resourceGroups/write',
      'Microsoft.Resources/subscriptions/resourceGroups/delete',
      'Microsoft.Resources/subscriptions/operationresults/read',
      'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action',
      'Microsoft.ContainerService/managedClusters/start/action',
      'Microsoft.ContainerService/managedClusters/stop/action',
      'Microsoft.ContainerService/managedClusters/maintenanceConfigurations/write',
      'Microsoft.ContainerService/locations/operations/read',
      'Microsoft.DBforPostgreSQL/flexibleServers/configurations/write',
      'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules/write',
      'Microsoft.DBforPostgreSQL/flexibleServers/databases/write',
      'Microsoft.DBforPostgreSQL/flexibleServers/start/action',
      'Microsoft.DBforPostgreSQL/flexibleServers/stop/action',
      'Microsoft.Storage/storageAccounts/listKeys/action',
      'Microsoft.Storage/storageAccounts/fileServices/shares/write',
      'Microsoft.Network/publicIPAddresses/read',
      // Admission (src/azure/capacity.ts): the region's vCPU quota and the subscription's resource groups.
      'Microsoft.Compute/locations/usages/read',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
    ];
    expect(performed.filter((operation) => !allowed(operation))).toEqual([]);
    // Nothing that grants access: role assignments come only through the constrained role.
    expect(actions.filter((a) => /^(\*|Microsoft\.Authorization)/i.test(a))).toEqual([]);
  });

  it('may assign only AKS RBAC Cluster Admin, and only to itself', () => {
    const rbac = access.resources.find(
      (r) =>
        r.type === 'Microsoft.Authorization/roleAssignments' &&
        roleOf(access, r) === 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
    )!;
    const properties = object(rbac.body.properties);
    expect(properties.conditionVersion).toBe('2.0');
    const condition = text(properties.condition);
    expect(access.vars.get('aksRbacClusterAdmin')).toBe('b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b');
    for (const verb of ['write', 'delete']) expect(condition).toContain(`roleAssignments/${verb}`);
    expect(
      condition.match(/RoleDefinitionId\] ForAnyOfAnyValues:GuidEquals \{\$\{aksRbacClusterAdmin\}\}/g),
    ).toHaveLength(2);
    expect(condition.match(/PrincipalId\] ForAnyOfAnyValues:GuidEquals \{\$\{principalId\}\}/g)).toHaveLength(
      2,
    );
  });
});

/**
 * Per resource type of the templates, the model of its PUT body in the SDK package generated for its
 * api-version. `Microsoft.Web/sites/config` has a model per name.
 */
interface SchemaSource {
  pkg: string;
  model: string;
  apiVersion: string;
  /** Properties of the api-version used that the package's older one lacks, with the specification's path. */
  additions?: Record<string, Shape>;
  /** A type no installed package describes: its writable properties, from the documented specification. */
  declared?: Shape;
}

const ANY: Shape = { kind: 'any' };
const shapeOf = (properties: Record<string, Shape>): Shape => ({
  kind: 'object',
  properties: new Map(Object.entries(properties)),
});

async function mappersOf(pkg: string, file: string) {
  return (await import(pathToFileURL(join(packageRoot(pkg), file)).href)) as Record<string, unknown>;
}

describe('every resource body against the schema of its api-version', () => {
  const typeSpec = (pkg: string, model: string): SchemaSource => ({
    pkg,
    model,
    apiVersion: typeSpecApiVersion(pkg),
  });
  const sources: Record<string, SchemaSource> = {
    'Microsoft.Web/serverfarms': typeSpec('@azure/arm-appservice', 'appServicePlan'),
    'Microsoft.Web/sites': typeSpec('@azure/arm-appservice', 'site'),
    'Microsoft.Web/sites/config appsettings': typeSpec('@azure/arm-appservice', 'stringDictionary'),
    'Microsoft.Web/sites/config authsettingsV2': typeSpec('@azure/arm-appservice', 'siteAuthSettingsV2'),
    'Microsoft.Web/sites/basicPublishingCredentialsPolicies': typeSpec(
      '@azure/arm-appservice',
      'csmPublishingCredentialsPoliciesEntity',
    ),
    'Microsoft.KeyVault/vaults': typeSpec('@azure/arm-keyvault', 'vaultCreateOrUpdateParameters'),
    'Microsoft.Storage/storageAccounts': typeSpec('@azure/arm-storage', 'storageAccountCreateParameters'),
    'Microsoft.Storage/storageAccounts/blobServices': typeSpec('@azure/arm-storage', 'blobServiceProperties'),
    'Microsoft.Storage/storageAccounts/blobServices/containers': typeSpec(
      '@azure/arm-storage',
      'blobContainer',
    ),
    'Microsoft.OperationalInsights/workspaces': typeSpec('@azure/arm-operationalinsights', 'workspace'),
    'Microsoft.Authorization/roleAssignments': {
      pkg: '@azure/arm-authorization',
      model: 'RoleAssignmentCreateParameters',
      apiVersion: '2022-04-01',
    },
    'Microsoft.Authorization/roleDefinitions': {
      pkg: '@azure/arm-authorization',
      model: 'RoleDefinition',
      apiVersion: '2022-04-01',
    },
    'Microsoft.Resources/resourceGroups': {
      pkg: '@azure/arm-resources',
      model: 'ResourceGroup',
      apiVersion: '2025-04-01',
    },
    // @azure/arm-appinsights 4 is generated for 2018-05-01-preview, which cannot name the Log Analytics
    // workspace of a workspace-based component (classic ones can no longer be created). 2020-02-02 adds
    // WorkspaceResourceId (azure-rest-api-specs: specification/applicationinsights/resource-manager/
    // Microsoft.Insights/stable/2020-02-02/components_API.json); every other property is checked against
    // the package's model.
    'Microsoft.Insights/components': {
      pkg: '@azure/arm-appinsights',
      model: 'ApplicationInsightsComponent',
      apiVersion: '2020-02-02',
      additions: { WorkspaceResourceId: { kind: 'any' } },
    },
    // No management package of Microsoft.DurableTask is published on npm: the writable properties of
    // 2026-02-01 as the template reference documents them (learn.microsoft.com/azure/templates/
    // microsoft.durabletask/2026-02-01/schedulers and …/schedulers/taskhubs; the endpoint is read-only).
    'Microsoft.DurableTask/schedulers': {
      pkg: '',
      model: 'Scheduler',
      apiVersion: '2026-02-01',
      declared: shapeOf({
        location: ANY,
        tags: ANY,
        properties: shapeOf({
          ipAllowlist: ANY,
          publicNetworkAccess: ANY,
          sku: shapeOf({ name: ANY, capacity: ANY }),
        }),
      }),
    },
    'Microsoft.DurableTask/schedulers/taskHubs': {
      pkg: '',
      model: 'TaskHub',
      apiVersion: '2026-02-01',
      declared: shapeOf({ properties: shapeOf({}) }),
    },
  };
  /** The api-version each AutoRest package sends for the model's operations, read from the package. */
  const mapperPackages: Record<string, { mappers: string; parameters: string; parameter: string }> = {
    '@azure/arm-authorization': {
      mappers: 'dist-esm/src/models/mappers.js',
      parameters: 'dist-esm/src/models/parameters.js',
      parameter: 'apiVersion1', // roleAssignments and roleDefinitions
    },
    '@azure/arm-resources': {
      mappers: 'dist/esm/models/mappers.js',
      parameters: 'dist/esm/models/parameters.js',
      parameter: 'apiVersion',
    },
    '@azure/arm-appinsights': {
      mappers: 'esm/models/mappers.js',
      parameters: 'esm/models/parameters.js',
      parameter: 'apiVersion5', // components
    },
  };

  const key = (r: BicepResource) =>
    r.type === 'Microsoft.Web/sites/config' ? `${r.type} ${String(r.body.name)}` : r.type;
  const schemaCache = new Map<string, (model: string) => Shape>();
  async function schemaFor(source: SchemaSource): Promise<{ shape: Shape; packageVersion: string }> {
    if (source.declared) return { shape: source.declared, packageVersion: source.apiVersion };
    const paths = mapperPackages[source.pkg];
    if (!paths) {
      if (!schemaCache.has(source.pkg)) schemaCache.set(source.pkg, typeSpecSchemas(source.pkg));
      return {
        shape: schemaCache.get(source.pkg)!(source.model),
        packageVersion: typeSpecApiVersion(source.pkg),
      };
    }
    const parameters = await mappersOf(source.pkg, paths.parameters);
    const packageVersion = (parameters[paths.parameter] as { mapper: { defaultValue: string } }).mapper
      .defaultValue;
    const shape = mapperSchemas(await mappersOf(source.pkg, paths.mappers))(source.model);
    if (source.additions && shape.kind === 'object') {
      const properties = shape.properties.get('properties');
      if (properties?.kind === 'object')
        for (const [name, added] of Object.entries(source.additions)) properties.properties.set(name, added);
    }
    return { shape, packageVersion };
  }

  /** A Bicep resource body as the PUT body: without the name (in the URL) and Bicep's own keys. */
  const putBody = (r: BicepResource) => {
    const { name: _name, parent: _parent, scope: _scope, dependsOn: _dependsOn, ...body } = r.body;
    return body;
  };

  const resources = [...main.resources, ...app.resources, ...access.resources].filter((r) => !r.existing);

  it('every resource type of the templates has a schema', () => {
    expect(resources.map(key).filter((k) => !sources[k])).toEqual([]);
  });

  for (const r of resources)
    it(`${r.symbol}: ${r.type}@${r.apiVersion}`, async () => {
      const source = sources[key(r)]!;
      const { shape, packageVersion } = await schemaFor(source);
      // The api-version of the package, or the documented newer one whose additions are declared above.
      expect(r.apiVersion).toBe(source.apiVersion);
      if (!source.additions) expect(packageVersion).toBe(source.apiVersion);
      expect(unknownProperties(putBody(r), shape)).toEqual([]);
    });

  it('reports a property the api-version does not have, and a read-only one', async () => {
    const site = resource(app, 'Microsoft.Web/sites');
    const { shape } = await schemaFor(sources['Microsoft.Web/sites']!);
    const body = putBody(site);
    const properties = object(body.properties);
    const tampered = {
      ...body,
      properties: {
        ...properties,
        state: 'Running', // read-only
        siteConfig: { ...object(properties.siteConfig), minTlsVersionTypo: '1.2' },
      },
    };
    expect(unknownProperties(tampered, shape).sort()).toEqual([
      'properties.siteConfig.minTlsVersionTypo',
      'properties.state',
    ]);
    const { shape: assignment } = await schemaFor(sources['Microsoft.Authorization/roleAssignments']!);
    expect(unknownProperties({ properties: { principalId: 'x', scope: '/' } }, assignment)).toEqual([
      'properties.scope',
    ]);
  });
});

describe('the app registration and the README', () => {
  const registration = JSON.parse(read('infra/entra/app.json')) as {
    appRoles: { id: string; value: string }[];
    api: { oauth2PermissionScopes: { id: string; value: string }[] };
  };

  it("defines the API's app roles, and the Azure CLI is pre-authorized for the scope it defines", () => {
    // The roles the app reads from the `roles` claim (src/platform/access.ts), no more, no less.
    expect(registration.appRoles.map((r) => r.value).sort()).toEqual(Object.values(ROLES).sort());
    const preauthorize = JSON.parse(read('infra/entra/preauthorize-azure-cli.json')) as {
      api: {
        oauth2PermissionScopes: unknown;
        preAuthorizedApplications: { delegatedPermissionIds: string[] }[];
      };
    };
    // The second PATCH replaces `api` whole: it repeats the scopes of the first.
    expect(preauthorize.api.oauth2PermissionScopes).toEqual(registration.api.oauth2PermissionScopes);
    expect(preauthorize.api.preAuthorizedApplications.flatMap((a) => a.delegatedPermissionIds)).toEqual(
      registration.api.oauth2PermissionScopes.map((s) => s.id),
    );
  });

  it('"Deploy to Azure" uses the registration’s ids, the template’s outputs, and names every role granted', () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Deploy to Azure'), readme.indexOf('## Development'));
    const admin = registration.appRoles.find((r) => r.value === 'Platforms.Admin')!;
    expect(section).toContain(`"appRoleId\\":\\"${admin.id}\\"`);
    expect(section).toContain(`api://$AUTH_CLIENT_ID/${registration.api.oauth2PermissionScopes[0]!.value}`);
    const outputs = new Set(main.outputs.keys());
    const azdOwn = ['AZURE_SUBSCRIPTION_ID', 'AZURE_ENV_NAME'];
    const used = [...section.matchAll(/\$\{?([A-Z][A-Z0-9_]+)\}?/g)].map((m) => m[1]!);
    expect(
      used.filter(
        (name) =>
          !outputs.has(name) && !azdOwn.includes(name) && !['APP_ID', 'SP_ID', 'KEY', 'TOKEN'].includes(name),
      ),
    ).toEqual([]);
    for (const a of [...main.resources, ...app.resources, ...access.resources].filter(
      (r) => r.type === 'Microsoft.Authorization/roleAssignments',
    )) {
      const role = roleOf(fileOf(a), a);
      if (GUID.test(role)) expect(section, role).toContain(role.slice(0, 8));
    }
  });
});
