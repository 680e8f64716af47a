// The API's own deployment, what `azd up` provisions (azure.yaml): a resource group holding the Function App
// and what it needs (app.bicep), and the two roles the app holds on the whole subscription, where it creates
// each platform's resource group. Every role the app's identity gets is listed in README.md ("Deploy to
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

// Built-in roles granted at subscription scope (ids are the same in every tenant).
var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168' // Role Based Access Control Administrator
var aksRbacClusterAdmin = 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b' // Azure Kubernetes Service RBAC Cluster Admin

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
  }
}

// What the flows do in the target subscription, and nothing else: resource groups, and in them AKS clusters,
// PostgreSQL flexible servers and storage accounts (AZURE_RESOURCES in src/platform/azure-resources.ts), and
// reading the public IPs AKS gives a cluster (in the node resource group AKS creates), and reading the vCPU
// quota of a region before admitting a platform (src/azure/capacity.ts). Narrower than
// Contributor, which could also create VMs, networks or anything else in the subscription.
resource provisionerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'llm-platforms-provisioner', environmentName)
  properties: {
    roleName: 'LLM platforms provisioner (${environmentName})'
    description: 'Creates, stops, starts and deletes LLM platforms: resource groups with AKS, PostgreSQL flexible servers and storage accounts.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/*'
          'Microsoft.Resources/subscriptions/operationresults/read'
          'Microsoft.ContainerService/managedClusters/*'
          'Microsoft.ContainerService/locations/*'
          'Microsoft.DBforPostgreSQL/flexibleServers/*'
          'Microsoft.DBforPostgreSQL/locations/*'
          'Microsoft.Storage/storageAccounts/*'
          'Microsoft.Storage/locations/*'
          'Microsoft.Network/publicIPAddresses/read'
          'Microsoft.Compute/locations/usages/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource provisioner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, environmentName, provisionerRole.id)
  properties: {
    roleDefinitionId: provisionerRole.id
    principalId: app.outputs.principalId
    principalType: 'ServicePrincipal'
    description: 'Creates the resource groups of LLM platforms and what is in them.'
  }
}

// The app grants itself "Azure Kubernetes Service RBAC Cluster Admin" on each cluster it creates. The right to
// write role assignments is limited by a condition, as Azure documents for delegating role assignment
// management: only that role, only to the app's own identity (a write or delete of any other assignment is
// refused).
resource clusterAdminGrants 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, environmentName, rbacAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    principalId: app.outputs.principalId
    principalType: 'ServicePrincipal'
    description: 'Grants only the AKS RBAC Cluster Admin role, only to the app itself, on the clusters it creates.'
    conditionVersion: '2.0'
    condition: '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${aksRbacClusterAdmin}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${app.outputs.principalId}})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${aksRbacClusterAdmin}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${app.outputs.principalId}}))'
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
