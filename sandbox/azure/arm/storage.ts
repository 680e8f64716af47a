/**
 * Microsoft.Storage/storageAccounts: create is an LRO in the Location style (202 + Location; the Location
 * URL answers 202 until done, then 200 with the account), updates and deletes are synchronous, keys are
 * listed by POST, and file shares are plain PUT/PATCH/GET/DELETE (a PUT replaces, a PATCH merges; neither may
 * change a create-only property). Account names are global, as in Azure.
 */
import { createHash } from 'node:crypto';
import { byMethod, type ProviderRequest, type Route } from './route.js';
import { assertGroupWritable } from './resource-groups.js';
import {
  ArmError,
  notFound,
  obj,
  requireLocation,
  sameJson,
  tagsOf,
  type Obj,
  type Resource,
  type World,
} from './world.js';

export const STORAGE_NAMESPACE = 'Microsoft.Storage';
export const STORAGE_TYPE = 'Microsoft.Storage/storageAccounts';
export const SHARE_TYPE = 'Microsoft.Storage/storageAccounts/fileServices/shares';

/** Deterministic, realistic-looking keys (64 bytes, base64) so tests can assert on them. */
export function storageKey(accountId: string, keyName: 'key1' | 'key2'): string {
  return createHash('sha512').update(`${accountId.toLowerCase()}\u0000${keyName}`).digest('base64');
}

export function storageRoute(ctx: ProviderRequest): Route {
  const { world, rgName, name, ltail } = ctx;
  const id = `/subscriptions/${world.subscriptionId}/resourceGroups/${rgName}/providers/Microsoft.Storage/storageAccounts/${name}`;
  const find = (): Resource | undefined => {
    const r = world.get(id);
    return r?.type === STORAGE_TYPE ? r : undefined;
  };
  const get = (): Resource => {
    const account = find();
    if (!account) throw notFound(STORAGE_TYPE, name, rgName);
    return account;
  };

  if (ltail.length === 0)
    return byMethod(ctx, 'a storage account', {
      PUT: {
        op: 'storage.create',
        lro: true,
        run: (failure) => {
          const location = requireLocation(ctx.body);
          if (!/^[a-z0-9]{3,24}$/.test(name))
            throw new ArmError(
              400,
              'AccountNameInvalid',
              `${name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.`,
            );
          const existing = find();
          if (existing) {
            if (sameJson(existing.body, ctx.body) && !world.lastFailed(existing))
              return { status: 200, body: existing.present() };
            assertGroupWritable(world, rgName);
            if (world.busy(existing))
              throw new ArmError(
                409,
                'AnotherOperationInProgress',
                `Another operation is in progress on storage account '${name}'. Please retry later.`,
              );
            // Storage applies property changes of an existing account synchronously.
            existing.body = ctx.body;
            existing.tags = tagsOf(ctx.body);
            if (!world.lastFailed(existing)) return { status: 200, body: existing.present() };
          }
          const taken = [...world.resources.values()].find(
            (r) => r.type === STORAGE_TYPE && r.name === name && r.key !== id.toLowerCase(),
          );
          if (taken)
            throw new ArmError(
              409,
              'StorageAccountAlreadyTaken',
              `The storage account named ${name} is already taken.`,
            );
          const group = assertGroupWritable(world, rgName);
          const account: Resource = existing ?? {
            key: id.toLowerCase(),
            id: `${group.id}/providers/Microsoft.Storage/storageAccounts/${name}`,
            type: STORAGE_TYPE,
            name,
            rg: group.name.toLowerCase(),
            location,
            tags: tagsOf(ctx.body),
            body: ctx.body,
            createdAt: world.now(),
            present: () => presentAccount(world, account),
          };
          world.add(account);
          const op = world.start({
            kind: 'storage.create',
            resource: account,
            label: 'Creating',
            durationMs: world.durations.storageCreate,
            failure,
            namespace: STORAGE_NAMESPACE,
            apiVersion: ctx.apiVersion,
            finalReply: () => ({ status: 200, body: account.present() }),
          });
          return { status: 202, headers: world.acceptedHeaders(op, { location: true }) };
        },
      },
      GET: { op: 'storage.get', run: () => ({ status: 200, body: get().present() }) },
      DELETE: {
        op: 'storage.delete',
        run: () => {
          const account = find();
          if (!account) return { status: 204 };
          world.remove(account.key);
          return { status: 200 };
        },
      },
    });

  if (ltail[0] === 'listkeys' && ltail.length === 1)
    return byMethod(ctx, 'storage account keys', {
      POST: {
        op: 'storage.listKeys',
        run: () => {
          const account = get();
          const creationTime = world.iso(account.createdAt);
          return {
            status: 200,
            body: {
              keys: (['key1', 'key2'] as const).map((keyName) => ({
                keyName,
                value: storageKey(account.id, keyName),
                permissions: 'FULL',
                creationTime,
              })),
            },
          };
        },
      },
    });

  if (ltail[0] === 'fileservices' && ltail[1] === 'default' && ltail[2] === 'shares' && ltail.length <= 4)
    return shareRoute(ctx, get, ltail.length === 4 ? ctx.tail[3]! : undefined);

  throw new ArmError(
    404,
    'InvalidResourceType',
    `The sandbox does not simulate '${ctx.tail.join('/')}' on storage accounts.`,
  );
}

function presentAccount(world: World, account: Resource): Obj {
  const n = account.name;
  return {
    id: account.id,
    name: n,
    type: STORAGE_TYPE,
    location: account.location,
    tags: account.tags,
    sku: account.body.sku ?? { name: 'Standard_LRS', tier: 'Standard' },
    kind: account.body.kind ?? 'StorageV2',
    properties: {
      ...obj(account.body.properties),
      provisioningState: world.provisioningState(account),
      creationTime: world.iso(account.createdAt),
      primaryLocation: account.location,
      statusOfPrimary: 'available',
      primaryEndpoints: {
        blob: `https://${n}.blob.core.windows.net/`,
        queue: `https://${n}.queue.core.windows.net/`,
        table: `https://${n}.table.core.windows.net/`,
        file: `https://${n}.file.core.windows.net/`,
        dfs: `https://${n}.dfs.core.windows.net/`,
        web: `https://${n}.z13.web.core.windows.net/`,
      },
    },
  };
}

/**
 * A share's properties only a create may set (`x-ms-mutability: ["create","read"]` in the Storage RP's
 * 2025-08-01 file.json: `enabledProtocols`). Changing one on an existing share is refused (the code is this
 * model's; the wire answer of the real RP was not verified), re-sending the same value is not.
 */
const SHARE_CREATE_ONLY = ['enabledProtocols'] as const;
const SHARE_DEFAULTS: Obj = { enabledProtocols: 'SMB' };

function refuseCreateOnlyChange(share: Resource, body: Obj) {
  const sent = obj(body.properties);
  const current = { ...SHARE_DEFAULTS, ...obj(share.body.properties) };
  for (const property of SHARE_CREATE_ONLY)
    if (sent[property] !== undefined && sent[property] !== current[property])
      throw new ArmError(
        400,
        'InvalidRequestPropertyValue',
        `The property '${property}' of a file share can only be set when the share is created.`,
      );
}

function shareRoute(ctx: ProviderRequest, getAccount: () => Resource, shareName: string | undefined): Route {
  const { world } = ctx;
  const parent = (): Resource => {
    try {
      return getAccount();
    } catch {
      throw new ArmError(
        404,
        'ParentResourceNotFound',
        `Can not perform requested operation on nested resource. Parent resource '${ctx.name}' not found.`,
      );
    }
  };
  const present = (r: Resource): Obj => ({
    id: r.id,
    name: r.name,
    type: SHARE_TYPE,
    etag: `"0x${r.createdAt.toString(16).toUpperCase()}"`,
    properties: {
      accessTier: 'TransactionOptimized',
      enabledProtocols: 'SMB',
      shareQuota: 102400,
      ...obj(r.body.properties),
      lastModifiedTime: world.iso(r.createdAt),
      leaseStatus: 'unlocked',
      leaseState: 'available',
    },
  });
  if (shareName === undefined)
    return byMethod(ctx, 'file shares', {
      GET: {
        op: 'storage.share.list',
        run: () => {
          const account = parent();
          return {
            status: 200,
            body: {
              value: world
                .children(account.key)
                .filter((r) => r.type === SHARE_TYPE)
                .map((r) => r.present()),
            },
          };
        },
      },
    });
  const find = (account: Resource) => world.get(`${account.id}/fileServices/default/shares/${shareName}`);
  return byMethod(ctx, 'a file share', {
    PUT: {
      op: 'storage.share.put',
      run: () => {
        const account = parent();
        if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(shareName))
          throw new ArmError(
            400,
            'InvalidResourceName',
            `The specifed resource name '${shareName}' is not valid.`,
          );
        const existing = find(account);
        if (existing) {
          // A PUT replaces the share's properties (what it leaves out returns to its default), but the
          // create-only ones may not change.
          refuseCreateOnlyChange(existing, ctx.body);
          existing.body = ctx.body;
          return { status: 200, body: existing.present() };
        }
        const id = `${account.id}/fileServices/default/shares/${shareName}`;
        const share: Resource = {
          key: id.toLowerCase(),
          id,
          type: SHARE_TYPE,
          name: shareName,
          rg: account.rg,
          parent: account.key,
          location: account.location,
          tags: {},
          body: ctx.body,
          createdAt: world.now(),
          present: () => present(share),
        };
        world.add(share);
        return { status: 201, body: share.present() };
      },
    },
    // FileShares_Update: a merge of the properties sent, on an existing share only.
    PATCH: {
      op: 'storage.share.patch',
      run: () => {
        const share = find(parent());
        if (!share) throw new ArmError(404, 'ShareNotFound', 'The specified share does not exist.');
        refuseCreateOnlyChange(share, ctx.body);
        share.body = {
          ...share.body,
          ...ctx.body,
          properties: { ...obj(share.body.properties), ...obj(ctx.body.properties) },
        };
        return { status: 200, body: share.present() };
      },
    },
    GET: {
      op: 'storage.share.get',
      run: () => {
        const share = find(parent());
        if (!share) throw new ArmError(404, 'ShareNotFound', 'The specified share does not exist.');
        return { status: 200, body: share.present() };
      },
    },
    DELETE: {
      op: 'storage.share.delete',
      run: () => {
        const share = find(parent());
        if (!share) return { status: 204 };
        world.remove(share.key);
        return { status: 200 };
      },
    },
  });
}
