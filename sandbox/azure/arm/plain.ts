/**
 * Resource types ARM creates within the request (PUT answers 201 with provisioningState Succeeded, no
 * operation to follow) and whose only behaviour the platform needs is being there, tagged, until its
 * resource group goes: a user-assigned managed identity. The platform's resource table can gain such a
 * kind without a provider of its own here; a type ARM does not know stays a 404 InvalidResourceType.
 */
import { byMethod, type ProviderRequest, type Route } from './route.js';
import { fakeGuid, notFound, requireLocation, tagsOf, type Obj, type Resource } from './world.js';

interface PlainType {
  /** For error messages: "a user-assigned identity". */
  what: string;
  /** The read-only properties ARM adds to what was sent. */
  computed: (id: string) => Obj;
}

const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

export const PLAIN_TYPES: Record<string, PlainType> = {
  'Microsoft.ManagedIdentity/userAssignedIdentities': {
    what: 'a user-assigned identity',
    computed: (id) => ({
      tenantId: TENANT_ID,
      principalId: fakeGuid('principal', id),
      clientId: fakeGuid('client', id),
    }),
  },
};

export function plainRoute(type: string): (ctx: ProviderRequest) => Route {
  const { what, computed } = PLAIN_TYPES[type]!;
  return (ctx) => {
    const { world, rgName, name } = ctx;
    const id = `${world.rgId(rgName)}/providers/${type}/${name}`;
    const find = () => (world.get(id)?.type === type ? world.get(id) : undefined);
    if (ctx.ltail.length > 0) throw notFound(type, `${name}/${ctx.tail.join('/')}`, rgName);
    return byMethod(ctx, what, {
      PUT: {
        op: 'plain.put',
        run: () => {
          const location = requireLocation(ctx.body);
          const existing = find();
          const properties = (ctx.body.properties as Obj | undefined) ?? {};
          const resource: Resource = {
            key: id.toLowerCase(),
            id: existing?.id ?? id,
            type,
            name,
            rg: rgName.toLowerCase(),
            location,
            tags: tagsOf(ctx.body),
            body: ctx.body,
            createdAt: existing?.createdAt ?? world.now(),
            present: () => ({
              id: resource.id,
              name,
              type,
              location,
              tags: resource.tags,
              properties: { ...properties, ...computed(resource.id), provisioningState: 'Succeeded' },
            }),
          };
          world.add(resource);
          return { status: existing ? 200 : 201, body: resource.present() };
        },
      },
      GET: {
        op: 'plain.get',
        run: () => {
          const resource = find();
          if (!resource) throw notFound(type, name, rgName);
          return { status: 200, body: resource.present() };
        },
      },
      DELETE: {
        op: 'plain.delete',
        run: () => {
          const resource = find();
          if (!resource) return { status: 204 };
          world.remove(resource.key);
          return { status: 200 };
        },
      },
    });
  };
}
