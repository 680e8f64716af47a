/**
 * Microsoft.Authorization/roleAssignments at any scope (`{scope}/providers/Microsoft.Authorization/
 * roleAssignments/{name}`; api-version 2022-04-01, what @azure/arm-authorization 9.0.0 sends): PUT, GET
 * and DELETE. An assignment lives with its scope: deleting the scope's resource or resource group deletes
 * it. The same principal, role and scope under another name is refused 409 RoleAssignmentExists; a name
 * must be a GUID; an existing assignment cannot be changed.
 *
 * A cluster with Azure RBAC for Kubernetes sees an assignment only after it has propagated to the
 * cluster's authorization server (`roleAssignmentPropagation`): until then the API server answers 403.
 */
import { byMethod, type RequestContext, type Route } from './route.js';
import { ArmError, obj, type Resource, type World } from './world.js';

export const ROLE_ASSIGNMENT_TYPE = 'Microsoft.Authorization/roleAssignments';

/** The built-in roles that grant access to a cluster's Kubernetes API under Azure RBAC for Kubernetes. */
export const KUBERNETES_ROLES = {
  'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b': 'Azure Kubernetes Service RBAC Cluster Admin',
  '3498e952-d568-435e-9b2c-8d77e338d7f7': 'Azure Kubernetes Service RBAC Admin',
  'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb': 'Azure Kubernetes Service RBAC Writer',
  '7f6c6a51-bcf8-42ba-9220-52d62157d7db': 'Azure Kubernetes Service RBAC Reader',
} as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface RoleAssignment extends Resource {
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType: string;
}

const isAssignment = (r: Resource | undefined): r is RoleAssignment => r?.type === ROLE_ASSIGNMENT_TYPE;
const roleGuid = (roleDefinitionId: string) => roleDefinitionId.split('/').pop()!.toLowerCase();

/** A request for a role assignment: `scope` is the id before `/providers/Microsoft.Authorization`. */
export function roleAssignmentRoute(ctx: RequestContext, scope: string, name: string): Route {
  const { world } = ctx;
  const id = `${scope}/providers/${ROLE_ASSIGNMENT_TYPE}/${name}`;
  const existing = () => {
    const r = world.get(id);
    return isAssignment(r) ? r : undefined;
  };
  const notFound = () =>
    new ArmError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
  return byMethod(ctx, 'a role assignment', {
    PUT: {
      op: 'roleAssignment.put',
      run: () => {
        if (!GUID.test(name))
          throw new ArmError(
            400,
            'InvalidRoleAssignmentId',
            `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
          );
        const scopeOwner = scopeResource(world, scope);
        const properties = obj(ctx.body.properties);
        const roleDefinitionId = String(properties.roleDefinitionId ?? '');
        const principalId = String(properties.principalId ?? '').toLowerCase();
        if (!roleDefinitionId || !GUID.test(principalId))
          throw new ArmError(
            400,
            'InvalidRoleAssignmentRequest',
            'The request to create a role assignment needs properties.roleDefinitionId and properties.principalId.',
          );
        const current = existing();
        if (current) {
          if (
            roleGuid(current.roleDefinitionId) !== roleGuid(roleDefinitionId) ||
            current.principalId !== principalId
          )
            throw new ArmError(
              409,
              'RoleAssignmentUpdateNotPermitted',
              'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
            );
          return { status: 201, body: current.present() };
        }
        const twin = world
          .atScope(scope)
          .find(
            (r) =>
              isAssignment(r) &&
              r.principalId === principalId &&
              roleGuid(r.roleDefinitionId) === roleGuid(roleDefinitionId),
          );
        if (twin) throw new ArmError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
        const assignment: RoleAssignment = {
          key: id.toLowerCase(),
          id,
          type: ROLE_ASSIGNMENT_TYPE,
          name,
          rg: scopeOwner?.rg ?? '',
          // Deleted with the resource it is assigned on (a resource group's go with the group).
          ...(scopeOwner && !scopeOwner.isGroup ? { parent: scopeOwner.key } : {}),
          location: '',
          tags: {},
          body: ctx.body,
          createdAt: world.now(),
          scope,
          roleDefinitionId,
          principalId,
          principalType: String(properties.principalType ?? 'User'),
          present: () => ({
            id,
            name,
            type: ROLE_ASSIGNMENT_TYPE,
            properties: {
              roleDefinitionId,
              principalId,
              principalType: assignment.principalType,
              scope,
              createdOn: world.iso(assignment.createdAt),
              updatedOn: world.iso(assignment.createdAt),
            },
          }),
        };
        world.add(assignment);
        return { status: 201, body: assignment.present() };
      },
    },
    GET: {
      op: 'roleAssignment.get',
      run: () => {
        const current = existing();
        if (!current) throw notFound();
        return { status: 200, body: current.present() };
      },
    },
    DELETE: {
      op: 'roleAssignment.delete',
      run: () => {
        const current = existing();
        if (!current) return { status: 204 };
        world.remove(current.key);
        return { status: 200, body: current.present() };
      },
    },
  });
}

/** The resource (or group) a scope names; 404 when it does not exist; undefined for the subscription. */
function scopeResource(
  world: World,
  scope: string,
): { key: string; rg: string; isGroup: boolean } | undefined {
  const segments = scope.split('/').filter(Boolean);
  if (segments.length <= 2) return undefined;
  const rgName = segments[3]!;
  const group = world.resourceGroup(rgName);
  if (!group)
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rgName}' could not be found.`);
  if (segments.length === 4) return { key: group.key, rg: group.name.toLowerCase(), isGroup: true };
  const resource = world.get(scope);
  if (!resource)
    throw new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${segments.slice(5).join('/')}' under resource group '${rgName}' was not found.`,
    );
  return { key: resource.key, rg: resource.rg, isGroup: false };
}

/**
 * Whether `principalId` holds a Kubernetes role on the resource `id` (assigned there or on an ancestor:
 * its resource group, the subscription) that has propagated by now.
 */
export function holdsKubernetesRole(world: World, id: string, principalId: string): boolean {
  const segments = id.split('/');
  const now = world.now();
  // The id itself and each ancestor scope: `/subscriptions/{s}`, then its resource group, and so on.
  const scopes = segments.slice(2).map((_, i) => segments.slice(0, i + 3).join('/'));
  return scopes.some((scope) =>
    world
      .atScope(scope)
      .some(
        (r) =>
          isAssignment(r) &&
          r.principalId === principalId.toLowerCase() &&
          roleGuid(r.roleDefinitionId) in KUBERNETES_ROLES &&
          now >= r.createdAt + world.durations.roleAssignmentPropagation,
      ),
  );
}
