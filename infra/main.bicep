// The API's own deployment, what `azd up` provisions (azure.yaml): a resource group holding the Function App
// and what it needs (app.bicep), and the two roles the app holds on the whole subscription, where it creates
// each platform's resource group (subscription-access.bicep, deployed again in each further subscription of
// the pool). Every role the app's identity gets is listed in README.md ("Deploy to
// Azure"); test/unit/infra.test.ts reads these files and checks them against the code and the API schemas.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment: names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Region of the API itself (its platforms go to ALLOWED_LOCATIONS).')
param location string

@minLength(36)
@maxLength(36)
@description('Client id of the Microsoft Entra app registration that callers get tokens for (README: "Deploy to Azure").')
param authClientId string

@description('Key Vault purge protection: deleted secrets stay until the retention ends; azd down --purge cannot purge the vault.')
param keyVaultPurgeProtection bool = false

@description('Comma-separated further subscriptions platforms may be placed in, after this one (the app setting AZURE_SUBSCRIPTION_IDS); each needs subscription-access.bicep deployed there.')
param poolSubscriptionIds string = ''

@description('Comma-separated regions platforms may be created in (the app setting ALLOWED_LOCATIONS).')
param allowedLocations string = 'eastus,eastus2,southcentralus,westus2,westus3,northeurope,westeurope,uksouth,francecentral,swedencentral,southeastasia,australiaeast,japaneast,koreacentral,centralindia'

// The durable runtime's backend (README: "Durable Functions backend"). azureStorage: the task hub in the app's
// storage account (queues, tables, blobs), billed per transaction. durableTaskScheduler: a managed scheduler
// and task hub (Microsoft.DurableTask), for fleets whose orchestrations outgrow Azure Storage's throughput.
@allowed(['azureStorage', 'durableTaskScheduler'])
param durableBackend string = 'azureStorage'

@description('Durable Task Scheduler SKU when durableBackend is durableTaskScheduler: Consumption (per action) or Dedicated (per capacity unit).')
@allowed(['Consumption', 'Dedicated'])
param durableTaskSchedulerSku string = 'Consumption'

@description('Capacity units of a Dedicated scheduler (each published at up to 2,000 actions per second).')
@minValue(1)
@maxValue(3)
param durableTaskSchedulerCapacity int = 1

var tags = { 'azd-env-name': environmentName }

resource group 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module app 'app.bicep' = {
  name: 'app'
  scope: group
  params: {
    environmentName: environmentName
    location: location
    authClientId: authClientId
    keyVaultPurgeProtection: keyVaultPurgeProtection
    allowedLocations: allowedLocations
    durableBackend: durableBackend
    durableTaskSchedulerSku: durableTaskSchedulerSku
    durableTaskSchedulerCapacity: durableTaskSchedulerCapacity
    poolSubscriptionIds: poolSubscriptionIds
  }
}

// The custom provisioner role and the constrained role-assignment right on this subscription, where it creates
// each platform's resource group (subscription-access.bicep; each further subscription of the pool gets the
// same by deploying that file there).
module access 'subscription-access.bicep' = {
  name: 'access'
  params: {
    environmentName: environmentName
    principalId: app.outputs.principalId
  }
}

// azd stores outputs in the environment (.azure/<env>/.env); README's "Deploy to Azure" uses them.
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = group.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output API_URL string = app.outputs.url
output API_PRINCIPAL_ID string = app.outputs.principalId
output KEY_VAULT_URL string = app.outputs.keyVaultUrl
output AUTH_CLIENT_ID string = authClientId
