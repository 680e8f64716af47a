// The API in its resource group: the Function App (Flex Consumption, Node 22) with its system-assigned
// identity, its storage (reached with that identity: no account key anywhere), its Key Vault (RBAC), Log
// Analytics with Application Insights, and the data roles the identity needs on the storage and the vault.
// api-versions are those of the management SDK packages the test validates each body against
// (test/unit/infra.test.ts).
targetScope = 'resourceGroup'

param environmentName string
param location string
param authClientId string
param keyVaultPurgeProtection bool
param allowedLocations string
param durableBackend string
param durableTaskSchedulerSku string
param durableTaskSchedulerCapacity int
// Further subscriptions of the pool, after this one (comma-separated; empty: this one alone).
param poolSubscriptionIds string

// Built-in data roles granted on this group's resources (ids are the same in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var durableTaskDataContributor = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = { 'azd-env-name': environmentName }
// The container Flex Consumption deploys the app's package from.
var packageContainer = 'app-package'
// The durable task hub (host.json reads DURABLE_TASK_HUB): tables and queues under this name in the storage
// account, or the scheduler's task hub of this name.
var taskHubName = 'llmplatforms'
var useScheduler = durableBackend == 'durableTaskScheduler'

resource logs 'Microsoft.OperationalInsights/workspaces@2025-07-01' = {
  name: 'log-${token}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

// Workspace-based Application Insights (classic, without a workspace, can no longer be created).
resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

// The Functions host, the durable task hub (Azure Storage provider: blobs, queues, tables) and the platform
// registry (a table) all use this account, through the app's identity only.
resource storage 'Microsoft.Storage/storageAccounts@2025-08-01' = {
  name: 'st${token}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2025-08-01' = {
  parent: storage
  name: 'default'
}

resource appPackage 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-08-01' = {
  parent: blobs
  name: packageContainer
  properties: {
    publicAccess: 'None'
  }
}

// The API's Key Vault: each platform's secrets (KEY_VAULT_URL). Access by Azure RBAC only.
resource vault 'Microsoft.KeyVault/vaults@2026-02-01' = {
  name: 'kv-${token}'
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Azure refuses `false` once purge protection is on, and never turns it off: left out unless wanted.
    enablePurgeProtection: keyVaultPurgeProtection ? true : null
  }
}

resource plan 'Microsoft.Web/serverfarms@2025-05-01' = {
  name: 'plan-${token}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-05-01' = {
  name: 'func-${token}'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${packageContainer}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: 40
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Every setting src/config.ts reads (SETTINGS), and the host's own. A child resource rather than
// siteConfig.appSettings, so a setting may name the app's own identity (functionApp.identity.principalId).
resource appSettings 'Microsoft.Web/sites/config@2025-05-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // The host's, the durable task hub's and the registry's storage, by identity (no key, no connection string).
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
    AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
    AZURE_SUBSCRIPTION_IDS: empty(poolSubscriptionIds) ? '' : '${subscription().subscriptionId},${poolSubscriptionIds}'
    KEY_VAULT_URL: vault.properties.vaultUri
    DURABLE_TASK_HUB: taskHubName
    // host.json's durableTask.storageProvider, overridden per deployment (AzureFunctionsJobHost__<path>): the
    // Azure Storage provider on AzureWebJobsStorage (what host.json alone means), or the Durable Task
    // Scheduler reached with the app's identity (no key: Authentication=ManagedIdentity).
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: useScheduler ? 'azureManaged' : 'AzureStorage'
    AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: useScheduler ? 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING' : 'AzureWebJobsStorage'
    DURABLE_TASK_SCHEDULER_CONNECTION_STRING: useScheduler ? 'Endpoint=${scheduler.properties.endpoint};Authentication=ManagedIdentity' : ''
    REGISTRY_TABLE: 'platforms'
    ALLOWED_LOCATIONS: allowedLocations
    AUTO_STOP_SCHEDULE: '0 */5 * * * *'
    DEFAULT_IDLE_MINUTES: '60'
    AKS_MAINTENANCE_WINDOW: 'Sunday 02:00 4h'
    AKS_CLUSTERS_PER_REGION: '100'
    // The identity granted Kubernetes access on each cluster the app creates (the role it may assign).
    API_PRINCIPAL_ID: functionApp.identity.principalId
  }
  dependsOn: [
    hostBlobs
    hostQueues
    registryTables
    durableTasks
  ]
}

// App Service Authentication: every request but the anonymous routes needs a Microsoft Entra token for the
// app registration (on top of the function key); the app roles arrive in the token's `roles` claim. The
// console (/console, anonymous for the Functions host only) is not excluded: it is signed in like the API.
resource authentication 'Microsoft.Web/sites/config@2025-05-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/health'
        '/openapi.json'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

// No FTP and no basic-auth deployment: azd deploys with a Microsoft Entra token.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-05-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-05-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// Blob Data Owner, not Contributor: the Functions host takes blob leases and the deployment reads the package.
resource hostBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The Durable Task Scheduler and its task hub, when durableBackend says so. The allow list is required (an
// empty one refuses every caller); callers are authenticated by Entra ID and the role below, and Flex
// Consumption has no fixed outbound addresses to list.
resource scheduler 'Microsoft.DurableTask/schedulers@2026-02-01' = if (useScheduler) {
  name: 'dts-${token}'
  location: location
  tags: tags
  properties: {
    ipAllowlist: [
      '0.0.0.0/0'
    ]
    sku: {
      name: durableTaskSchedulerSku
      capacity: durableTaskSchedulerSku == 'Dedicated' ? durableTaskSchedulerCapacity : null
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2026-02-01' = if (useScheduler) {
  parent: scheduler
  name: taskHubName
}

// Orchestrations, activities and their history in the scheduler's task hub.
resource durableTasks 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (useScheduler) {
  name: guid(taskHub.id, functionApp.id, durableTaskDataContributor)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributor)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The durable task hub's control and work-item queues.
resource hostQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The durable task hub's history and instance tables, and the platform registry (REGISTRY_TABLE).
resource registryTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// Each platform's secrets: create, read, delete, recover and purge (src/activities/secrets.ts).
resource vaultSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, functionApp.id, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = functionApp.name
output url string = 'https://${functionApp.properties.defaultHostName}'
output principalId string = functionApp.identity.principalId
output keyVaultUrl string = vault.properties.vaultUri
