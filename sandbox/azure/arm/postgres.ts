/**
 * Microsoft.DBforPostgreSQL/flexibleServers: server PUT/stop/start/delete as LROs (202 with
 * Azure-AsyncOperation + Location), and the children the platform writes: configurations, databases,
 * firewall rules. The service runs one management operation per server at a time: a child write is itself
 * a short LRO holding the server, and any write that overlaps it (or a server operation) gets
 * 409 ServerIsBusy. The first child write shortly after the server's creation is accepted and then fails
 * ServerBusy (`pgBusyAfterCreate`). A stop or start while the server is in another operation (Updating,
 * Restarting, …) is refused 409 ServerIsNotReady. A server stopped for seven days is started by Azure.
 */
import { PG_BUSY, serverNotReady } from './faults.js';
import { byMethod, type ProviderRequest, type Route } from './route.js';
import { assertGroupWritable } from './resource-groups.js';
import {
  ArmError,
  notFound,
  obj,
  PG_AUTO_START_AFTER_MS,
  requireLocation,
  sameJson,
  tagsOf,
  type LroFailure,
  type Obj,
  type Operation,
  type Reply,
  type Resource,
  type World,
} from './world.js';

export const PG_NAMESPACE = 'Microsoft.DBforPostgreSQL';
export const PG_TYPE = 'Microsoft.DBforPostgreSQL/flexibleServers';

export interface Server extends Resource {
  /** The settled state; while an operation runs its label (Provisioning, Stopping, …) is shown instead. */
  state: 'Ready' | 'Stopped' | 'Disabled';
  stoppedAt?: number;
  /** The running child write (configuration, database, firewall rule), which holds the server. */
  childOp?: Operation;
  /** When its creation ended (successfully). */
  createdReadyAt?: number;
  /** Its first child write after creation was already failed as busy. */
  busyAfterCreateServed?: boolean;
}

function isServer(r: Resource | undefined): r is Server {
  return r?.type === PG_TYPE;
}

function serverBusy(world: World, server: Server): boolean {
  return world.busy(server) || (!!server.childOp && !server.childOp.outcome);
}

const SERVER_IS_BUSY = () =>
  new ArmError(
    409,
    'ServerIsBusy',
    'Server is busy with another operation. Please try your operation later.',
  );

function serverState(world: World, server: Server): string {
  if (world.busy(server)) return server.op!.label;
  if (server.childOp && !server.childOp.outcome) return 'Updating';
  return server.state;
}

/**
 * When the auto-start next has a server to look at, per world: every request settles, so the walk over every
 * resource is done only once that time has come (a server stopped since lowers it).
 */
const autoStartDue = new WeakMap<World, number>();

/** Azure starts a server that has stayed stopped for seven days (applied lazily, dated when it happened). */
export function registerPgAutoStart(world: World) {
  world.onSettle(() => {
    if (world.now() < (autoStartDue.get(world) ?? -Infinity)) return;
    let next = Infinity;
    for (const r of world.resources.values()) {
      if (!isServer(r) || r.state !== 'Stopped' || r.stoppedAt === undefined) continue;
      const at = r.stoppedAt + PG_AUTO_START_AFTER_MS;
      if (world.now() < at || world.busy(r)) {
        // A busy server is looked at again at the next settle.
        next = Math.min(next, world.busy(r) ? world.now() : at);
        continue;
      }
      r.state = 'Ready';
      r.stoppedAt = undefined;
      world.events.push({ at, kind: 'pg.autoStart', resourceId: r.id });
    }
    autoStartDue.set(world, next);
  });
}

/** Server parameters the platform touches, with the metadata (and default value) the service reports. */
export const CONFIGURATIONS: Record<
  string,
  { defaultValue: string; dataType: string; allowedValues: string; description: string; dynamic: boolean }
> = {
  'azure.extensions': {
    defaultValue: '',
    dataType: 'Set',
    allowedValues:
      'address_standardizer,address_standardizer_data_us,amcheck,bloom,btree_gin,btree_gist,citext,cube,dblink,dict_int,dict_xsyn,earthdistance,fuzzystrmatch,hstore,intarray,isn,lo,ltree,pg_buffercache,pg_cron,pg_partman,pg_stat_statements,pg_trgm,pgcrypto,pgrowlocks,pgstattuple,plpgsql,postgis,postgres_fdw,tablefunc,unaccent,uuid-ossp,vector',
    description: 'Specifies which extensions are allowed to be created in the server.',
    dynamic: true,
  },
  require_secure_transport: {
    defaultValue: 'on',
    dataType: 'Boolean',
    allowedValues: 'on,off',
    description:
      'Whether client connections to the server are required to use some form of secure transport.',
    dynamic: true,
  },
  max_connections: {
    defaultValue: '50',
    dataType: 'Integer',
    allowedValues: '25-5000',
    description: 'Sets the maximum number of concurrent connections.',
    dynamic: false,
  },
  shared_preload_libraries: {
    defaultValue: 'pg_cron,pg_stat_statements',
    dataType: 'Set',
    allowedValues:
      'auto_explain,azure_storage,pg_cron,pg_failover_slots,pg_hint_plan,pg_partman_bgw,pg_prewarm,pg_squeeze,pg_stat_statements,pgaudit,pglogical,timescaledb,wal2json',
    description: 'Sets which shared libraries are preloaded at server start.',
    dynamic: false,
  },
};

function validConfigValue(meta: (typeof CONFIGURATIONS)[string], value: string): boolean {
  const allowed = meta.allowedValues.split(',');
  switch (meta.dataType) {
    case 'Boolean':
      return ['on', 'off', 'true', 'false'].includes(value.toLowerCase());
    case 'Integer': {
      const [min, max] = meta.allowedValues.split('-').map(Number);
      return /^\d+$/.test(value) && Number(value) >= min! && Number(value) <= max!;
    }
    case 'Set':
      return value === '' || value.split(',').every((v) => allowed.includes(v.trim().toLowerCase()));
    default:
      return true;
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function pgRoute(ctx: ProviderRequest): Route {
  const { world, rgName, name, ltail } = ctx;
  const id = `/subscriptions/${world.subscriptionId}/resourceGroups/${rgName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${name}`;
  const find = (): Server | undefined => {
    const r = world.get(id);
    return isServer(r) ? r : undefined;
  };
  const get = (): Server => {
    const server = find();
    if (!server) throw notFound(PG_TYPE, name, rgName);
    return server;
  };

  if (ltail.length === 0)
    return byMethod(ctx, 'a flexible server', {
      PUT: { op: 'pg.create', lro: true, run: (failure) => putServer(ctx, id, find(), failure) },
      GET: { op: 'pg.get', run: () => ({ status: 200, body: get().present() }) },
      // `servers.beginUpdate`: a partial body (e.g. a new sku) merged into the server, as a long operation.
      PATCH: { op: 'pg.update', lro: true, run: (failure) => patchServer(ctx, get(), failure) },
      DELETE: {
        op: 'pg.delete',
        lro: true,
        run: (failure) => {
          const server = find();
          if (!server) return { status: 204 };
          const running = world.busy(server) && server.op!.kind === 'pg.delete' ? server.op! : undefined;
          if (server.childOp && !server.childOp.outcome) server.childOp.outcome = 'Canceled';
          const op =
            running ??
            world.start({
              kind: 'pg.delete',
              resource: server,
              label: 'Dropping',
              durationMs: world.durations.pgDelete,
              failure,
              namespace: PG_NAMESPACE,
              apiVersion: ctx.apiVersion,
              onSucceeded: () => world.remove(server.key),
            });
          return {
            status: 202,
            headers: world.acceptedHeaders(op, { asyncOperation: true, location: true }),
          };
        },
      },
    });

  const [collection, childName] = ltail;
  if ((collection === 'stop' || collection === 'start') && ltail.length === 1)
    return byMethod(ctx, `flexible server ${collection}`, {
      POST: {
        op: collection === 'stop' ? 'pg.stop' : 'pg.start',
        lro: true,
        run: (failure) => {
          const server = get();
          const stop = collection === 'stop';
          // Power operations are refused outside a settled state, with the state they met
          // (hashicorp/terraform-provider-azurerm#29219; azure-real-behaviours F2): not ServerIsBusy.
          if (serverBusy(world, server)) {
            const state = serverState(world, server);
            throw new ArmError(
              409,
              'ServerIsNotReady',
              stop
                ? serverNotReady(state).message
                : `Start Server can only be performed on Stopped servers. Current Server State = ${state}`,
            );
          }
          if (stop && server.state !== 'Ready')
            throw new ArmError(
              409,
              'ServerIsNotReady',
              `Server '${server.name}' is not ready for this operation: its state is ${server.state}. Only a Ready server can be stopped.`,
            );
          if (!stop && server.state !== 'Stopped')
            throw new ArmError(
              409,
              'ServerIsNotStopped',
              `Server '${server.name}' is not stopped: its state is ${server.state}. Only a Stopped server can be started.`,
            );
          const op = world.start({
            kind: `pg.${collection}`,
            resource: server,
            label: stop ? 'Stopping' : 'Starting',
            durationMs: stop ? world.durations.pgStop : world.durations.pgStart,
            failure,
            namespace: PG_NAMESPACE,
            apiVersion: ctx.apiVersion,
            onSucceeded: () => {
              server.state = stop ? 'Stopped' : 'Ready';
              server.stoppedAt = stop ? op.endsAt : undefined;
              if (stop)
                autoStartDue.set(
                  world,
                  Math.min(autoStartDue.get(world) ?? Infinity, op.endsAt + PG_AUTO_START_AFTER_MS),
                );
            },
            finalReply: () => ({ status: 200 }),
          });
          return {
            status: 202,
            headers: world.acceptedHeaders(op, { asyncOperation: true, location: true }),
          };
        },
      },
    });

  if (collection === 'configurations' && ltail.length <= 2) return configurationRoute(ctx, get, childName);
  if ((collection === 'databases' || collection === 'firewallrules') && ltail.length <= 2)
    return childRoute(ctx, get, collection, childName === undefined ? undefined : ctx.tail[1]);

  throw new ArmError(
    404,
    'InvalidResourceType',
    `The sandbox does not simulate '${ctx.tail.join('/')}' on flexible servers.`,
  );
}

function patchServer(ctx: ProviderRequest, server: Server, failure: LroFailure | undefined): Reply {
  const { world } = ctx;
  const patch = ctx.body as Record<string, unknown>;
  if (serverBusy(world, server)) throw SERVER_IS_BUSY();
  if (server.state !== 'Ready')
    throw new ArmError(
      409,
      'ServerIsNotReady',
      `Server '${server.name}' is ${server.state}; start it before updating it.`,
    );
  const body = server.body as Record<string, unknown>;
  server.body = { ...body, ...patch };
  if (patch.tags) server.tags = tagsOf(server.body);
  const op = world.start({
    kind: 'pg.update',
    resource: server,
    label: 'Updating',
    durationMs: world.durations.pgUpdate,
    failure,
    namespace: PG_NAMESPACE,
    apiVersion: ctx.apiVersion,
  });
  return { status: 202, headers: world.acceptedHeaders(op, { asyncOperation: true, location: true }) };
}

function putServer(
  ctx: ProviderRequest,
  id: string,
  existing: Server | undefined,
  failure: LroFailure | undefined,
): Reply {
  const { world } = ctx;
  const location = requireLocation(ctx.body);
  const accepted = (op: Operation): Reply => ({
    status: 202,
    headers: world.acceptedHeaders(op, { asyncOperation: true, location: true }),
  });
  const provision = (server: Server, kind: string) => {
    const op = world.start({
      kind,
      resource: server,
      label: 'Provisioning',
      durationMs: world.durations.pgCreate,
      failure,
      namespace: PG_NAMESPACE,
      apiVersion: ctx.apiVersion,
      onSucceeded: () => {
        server.state = 'Ready';
        server.createdReadyAt = op.endsAt;
        server.busyAfterCreateServed = false;
      },
      onFailed: () => {
        server.state = 'Disabled';
      },
    });
    return op;
  };

  if (existing) {
    if (sameJson(existing.body, ctx.body) && !world.lastFailed(existing))
      return { status: 200, body: existing.present() };
    assertGroupWritable(world, ctx.rgName);
    if (serverBusy(world, existing)) throw SERVER_IS_BUSY();
    existing.body = ctx.body;
    existing.tags = tagsOf(ctx.body);
    // A server whose creation failed is provisioned again by the next PUT.
    if (existing.state === 'Disabled') return accepted(provision(existing, 'pg.create'));
    if (existing.state !== 'Ready')
      throw new ArmError(
        409,
        'ServerIsNotReady',
        `Server '${existing.name}' is ${existing.state}; start it before updating it.`,
      );
    return accepted(
      world.start({
        kind: 'pg.update',
        resource: existing,
        label: 'Updating',
        durationMs: world.durations.pgUpdate,
        failure,
        namespace: PG_NAMESPACE,
        apiVersion: ctx.apiVersion,
      }),
    );
  }

  const group = assertGroupWritable(world, ctx.rgName);
  const server: Server = {
    key: id.toLowerCase(),
    id: `${group.id}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${ctx.name}`,
    type: PG_TYPE,
    name: ctx.name,
    rg: group.name.toLowerCase(),
    location,
    tags: tagsOf(ctx.body),
    body: ctx.body,
    createdAt: world.now(),
    state: 'Disabled',
    present: () => presentServer(world, server),
  };
  world.add(server);
  return accepted(provision(server, 'pg.create'));
}

function presentServer(world: World, server: Server): Obj {
  const { administratorLoginPassword: _secret, ...properties } = obj(server.body.properties);
  const state = serverState(world, server);
  const provisioning = world.busy(server) ? 'InProgress' : world.provisioningState(server);
  return {
    id: server.id,
    name: server.name,
    type: PG_TYPE,
    location: server.location,
    tags: server.tags,
    sku: server.body.sku ?? { name: 'Standard_B1ms', tier: 'Burstable' },
    ...(server.body.identity ? { identity: server.body.identity } : {}),
    systemData: { createdAt: world.iso(server.createdAt) },
    properties: {
      ...properties,
      // Not in the 2025-08-01 model, but lets an idempotent re-PUT during creation poll the body (see arm.ts).
      provisioningState: provisioning,
      state,
      fullyQualifiedDomainName: `${server.name.toLowerCase()}.postgres.database.azure.com`,
      version: properties.version ?? '16',
      minorVersion: '10',
      availabilityZone: properties.availabilityZone ?? '1',
      replicationRole: 'Primary',
      replicaCapacity: 5,
      storage: { storageSizeGB: 32, autoGrow: 'Disabled', tier: 'P4', iops: 120, ...obj(properties.storage) },
    },
  };
}

/** Starts a child write: a short LRO that holds the server and applies its change when it completes. */
function childWrite(
  ctx: ProviderRequest,
  server: Server,
  target: Resource,
  kind: string,
  failure: LroFailure | undefined,
  apply: () => void,
): Reply {
  const { world } = ctx;
  if (server.state !== 'Ready' && !world.busy(server))
    throw new ArmError(
      409,
      'ServerIsNotReady',
      `Server '${server.name}' is ${server.state}; start it before changing it.`,
    );
  if (serverBusy(world, server)) throw SERVER_IS_BUSY();
  const op = world.start({
    kind,
    resource: target,
    attach: false,
    label: 'Updating',
    durationMs: world.durations.pgChildWrite,
    failure: failure ?? busyAfterCreate(world, server),
    namespace: PG_NAMESPACE,
    apiVersion: ctx.apiVersion,
    onSucceeded: () => {
      if (world.get(server.id) === server) apply();
    },
  });
  server.childOp = op;
  return { status: 202, headers: world.acceptedHeaders(op, { asyncOperation: true, location: true }) };
}

/**
 * Right after a creation the service is still busy with its own work: the first child write is accepted
 * and its operation then ends Failed ServerBusy ("usually fails" for a configuration write right after
 * create: Azure/azure-postgresql#134; Azure/bicep-types-az#1507; azure-real-behaviours F1). Later writes,
 * and any write after `pgBusyAfterCreate`, go through.
 */
function busyAfterCreate(world: World, server: Server): LroFailure | undefined {
  const { createdReadyAt } = server;
  if (createdReadyAt === undefined || server.busyAfterCreateServed) return undefined;
  if (world.now() >= createdReadyAt + world.durations.pgBusyAfterCreate) return undefined;
  server.busyAfterCreateServed = true;
  return { status: 409, ...PG_BUSY };
}

function childResource(
  world: World,
  server: Server,
  type: string,
  collection: string,
  name: string,
  body: Obj,
  present: (r: Resource) => Obj,
): Resource {
  const id = `${server.id}/${collection}/${name}`;
  const r: Resource = {
    key: id.toLowerCase(),
    id,
    type,
    name,
    rg: server.rg,
    parent: server.key,
    location: server.location,
    tags: {},
    body,
    createdAt: world.now(),
    present: () => present(r),
  };
  return r;
}

function configurationRoute(
  ctx: ProviderRequest,
  getServer: () => Server,
  lowerName: string | undefined,
): Route {
  const { world } = ctx;
  const type = `${PG_TYPE}/configurations`;
  const present = (server: Server, name: string, stored: Resource | undefined): Obj => {
    const meta = CONFIGURATIONS[name]!;
    const value = stored ? String(obj(stored.body.properties).value ?? '') : meta.defaultValue;
    return {
      id: `${server.id}/configurations/${name}`,
      name,
      type,
      properties: {
        value,
        description: meta.description,
        defaultValue: meta.defaultValue,
        dataType: meta.dataType,
        allowedValues: meta.allowedValues,
        source: stored ? 'user-override' : 'system-default',
        isDynamicConfig: meta.dynamic,
        isReadOnly: false,
        isConfigPendingRestart: !meta.dynamic && !!stored && value !== meta.defaultValue,
        documentationLink: `https://www.postgresql.org/docs/16/runtime-config.html`,
      },
    };
  };
  const stored = (server: Server, name: string) => world.get(`${server.id}/configurations/${name}`);
  if (lowerName === undefined)
    return byMethod(ctx, 'server configurations', {
      GET: {
        op: 'pg.config.list',
        run: () => {
          const server = getServer();
          return {
            status: 200,
            body: { value: Object.keys(CONFIGURATIONS).map((n) => present(server, n, stored(server, n))) },
          };
        },
      },
    });
  const known = () => {
    if (!CONFIGURATIONS[lowerName]) throw notFound(type, `${ctx.name}/${ctx.tail[1]}`, ctx.rgName);
    return lowerName;
  };
  const put: Route = {
    op: 'pg.config.put',
    lro: true,
    run: (failure) => {
      const server = getServer();
      const name = known();
      const value = obj(ctx.body.properties).value;
      if (typeof value !== 'string' || !validConfigValue(CONFIGURATIONS[name]!, value))
        throw new ArmError(
          400,
          'InvalidParameterValue',
          `Invalid value given for parameter '${name}'. Specify a valid parameter value.`,
        );
      const current = stored(server, name);
      const currentValue = current
        ? String(obj(current.body.properties).value ?? '')
        : CONFIGURATIONS[name]!.defaultValue;
      if (currentValue === value) return { status: 200, body: present(server, name, current) };
      const record =
        current ??
        childResource(world, server, type, 'configurations', name, {}, (r) => present(server, name, r));
      return childWrite(ctx, server, record, 'pg.config.put', failure, () => {
        record.body = { properties: { value, source: 'user-override' } };
        world.add(record);
      });
    },
  };
  return byMethod(ctx, 'a server configuration', {
    GET: {
      op: 'pg.config.get',
      run: () => {
        const server = getServer();
        const name = known();
        return { status: 200, body: present(server, name, stored(server, name)) };
      },
    },
    PUT: put,
    // `configurations.beginUpdate` sends PATCH with the same body.
    PATCH: put,
  });
}

function childRoute(
  ctx: ProviderRequest,
  getServer: () => Server,
  collection: 'databases' | 'firewallrules',
  childName: string | undefined,
): Route {
  const { world } = ctx;
  const db = collection === 'databases';
  const segment = db ? 'databases' : 'firewallRules';
  const type = `${PG_TYPE}/${segment}`;
  const opPrefix = db ? 'pg.db' : 'pg.firewall';
  const present = (r: Resource): Obj => ({
    id: r.id,
    name: r.name,
    type,
    properties: db
      ? { charset: 'UTF8', collation: 'en_US.utf8', ...obj(r.body.properties) }
      : obj(r.body.properties),
  });
  if (childName === undefined)
    return byMethod(ctx, `server ${segment}`, {
      GET: {
        op: db ? 'pg.db.list' : 'pg.firewall.list',
        run: () => {
          const server = getServer();
          return {
            status: 200,
            body: {
              value: world
                .children(server.key)
                .filter((r) => r.type === type)
                .map((r) => r.present()),
            },
          };
        },
      },
    });
  const find = (server: Server) => world.get(`${server.id}/${segment}/${childName}`);
  return byMethod(ctx, `a server ${segment.replace(/s$/, '')}`, {
    GET: {
      op: db ? 'pg.db.get' : 'pg.firewall.get',
      run: () => {
        const r = find(getServer());
        if (!r) throw notFound(type, `${ctx.name}/${childName}`, ctx.rgName);
        return { status: 200, body: r.present() };
      },
    },
    PUT: {
      op: db ? 'pg.db.put' : 'pg.firewall.put',
      lro: true,
      run: (failure) => {
        const server = getServer();
        const properties = obj(ctx.body.properties);
        if (!db) {
          for (const field of ['startIpAddress', 'endIpAddress'])
            if (typeof properties[field] !== 'string' || !IPV4.test(properties[field] as string))
              throw new ArmError(
                400,
                'InvalidParameterValue',
                `The value of '${field}' is not a valid IPv4 address.`,
              );
        }
        const current = find(server);
        if (current && sameJson(current.body, ctx.body)) return { status: 200, body: current.present() };
        const record = current ?? childResource(world, server, type, segment, childName, ctx.body, present);
        const body = ctx.body;
        return childWrite(ctx, server, record, `${opPrefix}.put`, failure, () => {
          record.body = body;
          world.add(record);
        });
      },
    },
    DELETE: {
      op: db ? 'pg.db.delete' : 'pg.firewall.delete',
      lro: true,
      run: (failure) => {
        const server = getServer();
        const current = find(server);
        if (!current) return { status: 204 };
        return childWrite(ctx, server, current, `${opPrefix}.delete`, failure, () =>
          world.remove(current.key),
        );
      },
    },
  });
}
