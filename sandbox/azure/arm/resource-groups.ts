/**
 * Microsoft.Resources/resourceGroups (ARM itself, not a resource provider): synchronous PUT, HEAD as the
 * existence check, and DELETE as a Location-style LRO that removes everything inside when it completes.
 */
import { byMethod, type RequestContext, type Route } from './route.js';
import {
  ArmError,
  normLocation,
  RESOURCE_GROUP_TYPE,
  requireLocation,
  tagsOf,
  type Resource,
  type World,
} from './world.js';

export function resourceGroupNotFound(name: string): ArmError {
  return new ArmError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
}

/** ARM refuses writes into a group that is being deleted. */
export function assertGroupWritable(world: World, name: string): Resource {
  const group = world.resourceGroup(name);
  if (!group) throw resourceGroupNotFound(name);
  if (world.busy(group))
    throw new ArmError(
      409,
      'ResourceGroupBeingDeleted',
      `The resource group '${group.name}' is in deprovisioning state and cannot perform this operation.`,
    );
  return group;
}

/** Creates (or returns) a resource group; also used for the node resource group AKS manages. */
export function ensureResourceGroup(
  world: World,
  name: string,
  location: string,
  tags: Record<string, string>,
  managedBy?: string,
): Resource {
  const existing = world.resourceGroup(name);
  if (existing) return existing;
  const id = world.rgId(name);
  location = normLocation(location);
  const group: Resource = {
    key: id.toLowerCase(),
    id,
    type: RESOURCE_GROUP_TYPE,
    name,
    rg: name.toLowerCase(),
    location,
    tags,
    body: { location, tags },
    createdAt: world.now(),
    present: () => ({
      id: group.id,
      name: group.name,
      type: RESOURCE_GROUP_TYPE,
      location: group.location,
      ...(managedBy ? { managedBy } : {}),
      tags: group.tags,
      properties: { provisioningState: world.busy(group) ? 'Deleting' : 'Succeeded' },
    }),
  };
  return world.add(group);
}

export function resourceGroupsRoute(ctx: RequestContext): Route {
  const { world } = ctx;
  return byMethod(ctx, 'the resource group collection', {
    GET: {
      op: 'rg.list',
      run: () => ({
        status: 200,
        body: {
          value: [...world.resources.values()]
            .filter((r) => r.type === RESOURCE_GROUP_TYPE)
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((r) => r.present()),
        },
      }),
    },
  });
}

export function resourceGroupRoute(ctx: RequestContext, name: string): Route {
  const { world } = ctx;
  const existing = () => world.resourceGroup(name);
  return byMethod(ctx, 'a resource group', {
    PUT: {
      op: 'rg.put',
      run: () => {
        const location = requireLocation(ctx.body);
        const group = existing();
        if (!group) {
          return {
            status: 201,
            body: ensureResourceGroup(world, name, location, tagsOf(ctx.body)).present(),
          };
        }
        assertGroupWritable(world, name);
        if (group.location !== location)
          throw new ArmError(
            409,
            'InvalidResourceGroupLocation',
            `Invalid resource group location '${location}'. The Resource group already exists in location '${group.location}'.`,
          );
        // PUT replaces: tags not sent are removed.
        group.tags = tagsOf(ctx.body);
        group.body = ctx.body;
        return { status: 200, body: group.present() };
      },
    },
    GET: {
      op: 'rg.get',
      run: () => {
        const group = existing();
        if (!group) throw resourceGroupNotFound(name);
        return { status: 200, body: group.present() };
      },
    },
    HEAD: {
      op: 'rg.head',
      run: () => ({ status: existing() ? 204 : 404 }),
    },
    DELETE: {
      op: 'rg.delete',
      lro: true,
      run: (failure) => {
        const group = existing();
        if (!group) throw resourceGroupNotFound(name);
        // A repeated DELETE while one runs answers with the running operation.
        const running = world.busy(group) ? group.op : undefined;
        const op =
          running ??
          world.start({
            kind: 'rg.delete',
            resource: group,
            label: 'Deleting',
            durationMs: world.durations.rgDelete,
            failure,
            namespace: 'Microsoft.Resources',
            apiVersion: ctx.apiVersion,
            onSucceeded: () => world.remove(group.key),
            finalReply: () => ({ status: 200 }),
          });
        return { status: 202, headers: world.acceptedHeaders(op, { location: true }) };
      },
    },
  });
}
