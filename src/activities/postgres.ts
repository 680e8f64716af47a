/**
 * PostgreSQL activities beyond the server itself (which is a resource of the table): its power, its child
 * resources (parameters, database, firewall rules: written one at a time, since Azure answers ServerIsBusy
 * to overlapping writes on one server) and the wipe's database drop. Each sends one write at most and
 * returns as soon as Azure accepted it.
 */
import type { AzureClientPool, AzureClients } from '../azure/clients.js';
import { accepted, attempt, captureOperation, readOrUndefined, unchanged } from '../azure/lro.js';
import { requireRecord, type Registry } from '../registry/registry.js';
import { missing } from './azure.js';
import type { ActivityHandlers, PostgresChild, ResourceState, Result } from './contract.js';

/** Server states an operation moves on from by itself. */
const PASSING_STATES = new Set(['Updating', 'Restarting', 'Starting', 'Stopping', 'Provisioning']);

type PostgresActivity = 'beginPostgresServerPower' | 'ensurePostgresChild' | 'beginPostgresDatabaseDelete';

export function createPostgresActivities({
  clients,
  registry,
}: {
  clients: AzureClientPool;
  registry: Registry;
}): ActivityHandlers<PostgresActivity> {
  // The server lives in the platform's subscription (its record's).
  const load = async (platformId: string) => {
    const record = await requireRecord(registry, platformId);
    return { names: record.names, arm: clients.of(record), postgres: clients.of(record).postgres };
  };
  return {
    async beginPostgresServerPower({ platformId, action }) {
      return attempt(async () => {
        const { names, postgres } = await load(platformId);
        const server = await readOrUndefined(() =>
          postgres.servers.get(names.resourceGroup, names.postgresServer),
        );
        if (!server) return missing('PostgreSQL server', names.postgresServer);
        const [target, transitional] = action === 'stop' ? ['Stopped', 'Stopping'] : ['Ready', 'Starting'];
        if (server.state === target) return unchanged();
        if (server.state === transitional) return unchanged(transitional);
        // In another operation (an update, a restart, maintenance, the opposite power operation): Azure
        // would refuse the request with ServerIsNotReady, so the caller polls the state until it settles.
        if (server.state && PASSING_STATES.has(server.state)) return unchanged(server.state);
        const { seen, onResponse, abortSignal, submit } = captureOperation();
        const options = { onResponse, abortSignal };
        await submit(
          action === 'stop'
            ? postgres.servers.beginStop(names.resourceGroup, names.postgresServer, options)
            : postgres.servers.beginStart(names.resourceGroup, names.postgresServer, options),
        );
        return accepted(seen);
      });
    },

    /** The wipe drops the openwebui database (with every user, chat, document and embedding in it). */
    async beginPostgresDatabaseDelete({ platformId }) {
      return attempt(async () => {
        const { names, postgres } = await load(platformId);
        const [rg, server, database] = [names.resourceGroup, names.postgresServer, names.postgresDatabase];
        const db = await readOrUndefined(() => postgres.databases.get(rg, server, database));
        if (!db) return unchanged();
        const { seen, onResponse, abortSignal, submit } = captureOperation();
        await submit(postgres.databases.beginDelete(rg, server, database, { onResponse, abortSignal }));
        return accepted(seen);
      });
    },

    async ensurePostgresChild({ platformId, child }) {
      return attempt(async () => {
        const { names, arm } = await load(platformId);
        return ensureChild(arm, names.resourceGroup, names.postgresServer, child);
      });
    },
  };
}

/** Reads the child and writes it only when it differs. */
async function ensureChild(
  { postgres }: AzureClients,
  rg: string,
  server: string,
  child: PostgresChild,
): Promise<Result<ResourceState>> {
  const { seen, onResponse, abortSignal, submit } = captureOperation();
  const options = { onResponse, abortSignal };
  switch (child.kind) {
    case 'configuration': {
      const current = await readOrUndefined(() => postgres.configurations.get(rg, server, child.name));
      if (current?.value?.toLowerCase() === child.value.toLowerCase()) return unchanged();
      const value = { value: child.value, source: 'user-override' };
      await submit(postgres.configurations.beginPut(rg, server, child.name, value, options));
      return accepted(seen);
    }
    case 'database': {
      if (await readOrUndefined(() => postgres.databases.get(rg, server, child.name))) return unchanged();
      const database = { charset: 'UTF8', collation: 'en_US.utf8' };
      await submit(postgres.databases.beginCreate(rg, server, child.name, database, options));
      return accepted(seen);
    }
    case 'firewallRule': {
      const current = await readOrUndefined(() => postgres.firewallRules.get(rg, server, child.name));
      if (current?.startIpAddress === child.startIpAddress && current.endIpAddress === child.endIpAddress)
        return unchanged();
      const rule = { startIpAddress: child.startIpAddress, endIpAddress: child.endIpAddress };
      await submit(postgres.firewallRules.beginCreateOrUpdate(rg, server, child.name, rule, options));
      return accepted(seen);
    }
  }
}
