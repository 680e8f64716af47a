/**
 * The platform registry: one Azure Table row per platform (PartitionKey = id, RowKey = 'current'), written
 * with optimistic concurrency (ETag / If-Match), plus archived rows of deleted platforms for audit.
 */
import { randomBytes } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { odata, TableClient, TableTransaction } from '@azure/data-tables';
import type { Phase, PlatformRecord } from '../platform/types.js';

export class RegistryConflictError extends Error {
  override name = 'RegistryConflictError';
}
export class RegistryStaleError extends Error {
  override name = 'RegistryStaleError';
}
export class RegistryNotFoundError extends Error {
  override name = 'RegistryNotFoundError';
}

export interface Registry {
  /**
   * Insert the record. If the current record for this id exists and its phase is 'Deleted', archive it and
   * replace it atomically. Otherwise RegistryConflictError. Returns the stored record with its etag.
   */
  create(record: PlatformRecord): Promise<PlatformRecord>;
  get(id: string): Promise<PlatformRecord | undefined>;
  /**
   * Current records, sorted by id; Deleted ones only when includeDeleted; with `phases`, only those phases
   * (filtered by the table service: admission reads the few queued and deleting ones on every create).
   */
  list(options?: { includeDeleted?: boolean; phases?: readonly Phase[] }): Promise<PlatformRecord[]>;
  /**
   * Read-modify-write with the entity's ETag. `change` receives a fresh copy of the current record and
   * returns the new record, or undefined to leave it untouched (the current record is then returned). When
   * someone else wrote in between, re-reads and re-applies `change`, up to `attempts` (default 5) times in
   * all, then throws RegistryStaleError. RegistryNotFoundError if absent.
   */
  update(
    id: string,
    change: (current: PlatformRecord) => PlatformRecord | undefined,
    options?: { attempts?: number },
  ): Promise<PlatformRecord>;
  /** Archived (previously Deleted) records of this id, newest first. */
  history(id: string): Promise<PlatformRecord[]>;
}

const CURRENT = 'current';
const ARCHIVE_PREFIX = 'deleted-';
/** Columns a record may lack: absent stays absent (not `undefined`) when read back. */
const OPTIONAL_JSON_COLUMNS = [
  'owners',
  'lastError',
  'warnings',
  'smokeTest',
  'power',
  'probeFailure',
  'softDeletedSecrets',
  'usage',
  'gpu',
] as const;
const JSON_COLUMNS = [
  'spec',
  'names',
  'resourceIds',
  'endpoints',
  'steps',
  'models',
  ...OPTIONAL_JSON_COLUMNS,
] as const;
// A Table string property holds at most 64 KiB, i.e. 32K UTF-16 code units.
const MAX_JSON_CHARS = 32_000;
const CREATE_ATTEMPTS = 5;

type Entity = Record<string, unknown> & { partitionKey: string; rowKey: string };

/** Where the table is: a connection string (Azurite, tests), or the account's endpoint and the app's identity. */
export type TableConnection = string | { tableEndpoint: string; credential: TokenCredential };

export function createTableRegistry(connection: TableConnection, tableName: string): Registry {
  const client =
    typeof connection === 'string'
      ? TableClient.fromConnectionString(connection, tableName, {
          allowInsecureConnection: usesHttp(connection),
        })
      : new TableClient(connection.tableEndpoint, tableName, connection.credential);

  let tableReady: Promise<void> | undefined;
  const table = (): Promise<TableClient> => {
    tableReady ??= client.createTable().catch((error: unknown) => {
      if (errorCode(error) === 'TableAlreadyExists') return;
      tableReady = undefined; // let a later call try again
      throw error;
    });
    return tableReady.then(() => client);
  };

  const read = async (id: string): Promise<PlatformRecord | undefined> => {
    try {
      return toRecord(await (await table()).getEntity<Entity>(id, CURRENT));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  };

  const query = async (filter: string): Promise<Array<Entity & { etag: string }>> => {
    const entities: Array<Entity & { etag: string }> = [];
    // The iterator follows continuation tokens, so this reads every page.
    for await (const entity of (await table()).listEntities<Entity>({ queryOptions: { filter } })) {
      entities.push(entity);
    }
    return entities;
  };

  return {
    async create(record) {
      const entity = toEntity(record, CURRENT);
      const tables = await table();
      for (let attempt = 1; attempt <= CREATE_ATTEMPTS; attempt++) {
        try {
          const { etag } = await tables.createEntity(entity);
          return { ...toRecord(entity), etag: etag ?? '' };
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
        }
        const existing = await read(record.id);
        if (existing === undefined) continue;
        if (existing.phase !== 'Deleted') {
          throw new RegistryConflictError(`platform ${record.id} already exists (phase ${existing.phase})`);
        }
        // One transaction: a crash between two separate writes would either lose the audit record or leave
        // the Deleted row in place, blocking the id; the If-Match also makes concurrent re-creates race safely.
        const transaction = new TableTransaction();
        transaction.createEntity(toEntity(existing, archiveRowKey(existing)));
        transaction.updateEntity(entity, 'Replace', { etag: existing.etag });
        try {
          const response = await tables.submitTransaction(transaction.actions);
          // Sub-responses come in action order; an update's carries no row key, so look it up by position.
          const etag = response.subResponses[1]?.etag ?? (await read(record.id))?.etag ?? '';
          return { ...toRecord(entity), etag };
        } catch (error) {
          // Someone else changed the row (412) or the archive key collided (409): look again.
          if (statusOf(error) !== 412 && statusOf(error) !== 409) throw error;
        }
      }
      throw new RegistryStaleError(`platform ${record.id}: create kept racing with other writers`);
    },

    get: read,

    async list(options = {}) {
      const phases = options.phases?.map((phase) => odata`phase eq ${phase}`).join(' or ');
      const filter = phases
        ? `${odata`RowKey eq ${CURRENT}`} and (${phases})`
        : options.includeDeleted
          ? odata`RowKey eq ${CURRENT}`
          : odata`RowKey eq ${CURRENT} and phase ne ${'Deleted'}`;
      return (await query(filter)).sort((a, b) => compare(a.partitionKey, b.partitionKey)).map(toRecord);
    },

    async update(id, change, options = {}) {
      const attempts = options.attempts ?? 5;
      for (let attempt = 1; ; attempt++) {
        const current = await read(id);
        if (current === undefined) throw new RegistryNotFoundError(`platform ${id} not found`);
        const next = change(structuredClone(current));
        if (next === undefined) return current;
        if (next.id !== id) {
          throw new Error(`update of platform ${id} must not change its id (got ${next.id})`);
        }
        const entity = toEntity(next, CURRENT);
        try {
          const { etag } = await (await table()).updateEntity(entity, 'Replace', { etag: current.etag });
          return { ...toRecord(entity), etag: etag ?? '' };
        } catch (error) {
          if (statusOf(error) === 404) throw new RegistryNotFoundError(`platform ${id} not found`);
          if (statusOf(error) !== 412) throw error;
          if (attempt >= attempts) {
            throw new RegistryStaleError(
              `platform ${id}: update lost to concurrent writers ${attempts} times`,
            );
          }
        }
        // Jitter, so writers that collided do not retry in lockstep.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    },

    async history(id) {
      // '.' is the character after '-', so this range is exactly the archive rows.
      const archived = await query(
        odata`PartitionKey eq ${id} and RowKey ge ${ARCHIVE_PREFIX} and RowKey lt ${'deleted.'}`,
      );
      return archived.sort((a, b) => compare(b.rowKey, a.rowKey)).map(toRecord);
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function archiveRowKey(record: PlatformRecord): string {
  // ISO timestamps sort lexicographically; the random suffix keeps two archives of the same instant apart.
  return `${ARCHIVE_PREFIX}${record.updatedAt}-${randomBytes(3).toString('hex')}`;
}

function toEntity(record: PlatformRecord, rowKey: string): Entity {
  const entity: Entity = {
    partitionKey: record.id,
    rowKey,
    phase: record.phase,
    operation: record.operation,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
  if (record.lastActiveAt !== undefined) entity.lastActiveAt = record.lastActiveAt;
  if (record.subscriptionId !== undefined) entity.subscriptionId = record.subscriptionId;
  for (const column of JSON_COLUMNS) {
    if (record[column] === undefined) continue;
    const json = JSON.stringify(record[column]);
    if (json.length > MAX_JSON_CHARS) {
      throw new Error(
        `registry column '${column}' of platform ${record.id} is ${json.length} characters; the limit is ${MAX_JSON_CHARS}`,
      );
    }
    entity[column] = json;
  }
  return entity;
}

function toRecord(entity: Entity & { etag?: string }): PlatformRecord {
  const json = (column: (typeof JSON_COLUMNS)[number]) => {
    const value = entity[column];
    return typeof value === 'string' ? JSON.parse(value) : undefined;
  };
  const record: PlatformRecord = {
    id: entity.partitionKey,
    spec: json('spec'),
    phase: entity.phase as PlatformRecord['phase'],
    operation: entity.operation as PlatformRecord['operation'],
    createdAt: entity.createdAt as string,
    updatedAt: entity.updatedAt as string,
    names: json('names'),
    resourceIds: json('resourceIds') ?? {},
    endpoints: json('endpoints') ?? {},
    steps: json('steps') ?? [],
    models: json('models') ?? {},
  };
  for (const column of OPTIONAL_JSON_COLUMNS) {
    const value = json(column);
    if (value !== undefined) (record as unknown as Record<string, unknown>)[column] = value;
  }
  if (typeof entity.lastActiveAt === 'string') record.lastActiveAt = entity.lastActiveAt;
  if (typeof entity.subscriptionId === 'string') record.subscriptionId = entity.subscriptionId;
  if (entity.etag !== undefined) record.etag = entity.etag;
  return record;
}

/** Azurite (local development) speaks plain http, which the SDK refuses unless told otherwise. */
function usesHttp(connectionString: string): boolean {
  const settings = new Map(
    connectionString
      .split(';')
      .filter((part) => part.includes('='))
      .map((part) => {
        const at = part.indexOf('=');
        return [
          part.slice(0, at).trim().toLowerCase(),
          part
            .slice(at + 1)
            .trim()
            .toLowerCase(),
        ] as const;
      }),
  );
  const endpoint = settings.get('tableendpoint');
  if (endpoint) return endpoint.startsWith('http:');
  return (
    settings.get('defaultendpointsprotocol') === 'http' || settings.get('usedevelopmentstorage') === 'true'
  );
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

/** The service's error code: Azurite puts it in details.errorCode, Azure in the parsed odata error. */
function errorCode(error: unknown): string | undefined {
  const e = error as {
    code?: string;
    details?: { errorCode?: string; odataError?: { code?: string } };
  } | null;
  return e?.details?.errorCode ?? e?.details?.odataError?.code ?? e?.code;
}

/** A platform's record, for a flow that must have one (a flow only runs for a registered platform). */
export async function requireRecord(registry: Registry, platformId: string): Promise<PlatformRecord> {
  const record = await registry.get(platformId);
  if (!record) throw new Error(`platform ${platformId} has no registry record`);
  return record;
}
