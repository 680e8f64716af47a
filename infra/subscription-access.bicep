// What the API's identity holds on one subscription where it creates platforms: main.bicep deploys it for its
// own subscription; an operator deploys it once in each further subscription of the pool
// (AZURE_SUBSCRIPTION_IDS; README "Deploy to Azure"), e.g.
//   az deployment sub create --subscription <id> --location <region> --template-file infra/subscription-access.bicep \
//     --parameters environmentName=$AZURE_ENV_NAME principalId=$API_PRINCIPAL_ID
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment of the API: names the custom role.')
param environmentName string

@minLength(36)
@maxLength(36)
@description('Object id of the API\'s identity (main.bicep\'s output API_PRINCIPAL_ID).')
param principalId string

// Built-in roles granted at subscription scope (ids are the same in every tenant).
var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168' // Role Based Access Control Administrator
var aksRbacClusterAdmin = 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b' // Azure Kubernetes Service RBAC Cluster Admin

// What the flows do in the target subscription, and nothing else: resource groups, and in them AKS clusters,
// PostgreSQL flexible servers and storage accounts (AZURE_RESOURCES in src/platform/azure-resources.ts), and
// reading the public IPs AKS gives a cluster (in the node resource group AKS creates), and reading the vCPU
// quota of a region before admitting a platform (src/azure/capacity.ts). Narrower than
// Contributor, which could also create VMs, networks or anything else in the subscription.
// Its name carries the subscription: a custom role's name is unique in the tenant, which the pool's
// subscriptions share.
resource provisionerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'llm-platforms-provisioner', environmentName)
  properties: {
    roleName: 'LLM platforms provisioner (${environmentName}, ${subscription().subscriptionId})'
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
    principalId: principalId
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
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Grants only the AKS RBAC Cluster Admin role, only to the app itself, on the clusters it creates.'
    conditionVersion: '2.0'
    condition: '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${aksRbacClusterAdmin}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${principalId}})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${aksRbacClusterAdmin}} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${principalId}}))'
  }
}
