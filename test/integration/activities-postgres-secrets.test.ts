/**
 * ensurePostgresChild against the simulated ARM (each child write is a short operation holding the server,
 * so a second overlapping write would be refused) and the platform secrets against the simulated Key Vault.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { armFault, DEFAULT_DURATIONS } from '../../sandbox/azure/arm.js';
import type { PostgresChild } from '../../src/activities/contract.js';
import type { PlatformRecord } from '../../src/platform/types.js';
import { storeRequestSecret } from '../../src/activities/secrets.js';
import { answerOf, startActivitySandbox, type ActivitySandbox } from '../support/activities.js';

let sandbox: ActivitySandbox;

beforeEach(async () => {
  sandbox = await startActivitySandbox();
});

/**
 * A platform with its PostgreSQL server created and settled, past the window in which the first write after
 * the creation fails busy (proved in arm-sdk.test.ts).
 */
async function platformWithServer(): Promise<PlatformRecord> {
  const record = await sandbox.platform();
  await sandbox.activities.beginAzureResource({ platformId: record.id, kind: 'postgresServer' });
  sandbox.settle();
  sandbox.clock.advanceBy(DEFAULT_DURATIONS.pgBusyAfterCreate);
  return record;
}

describe('ensurePostgresChild', () => {
  let record: PlatformRecord;

  beforeEach(async () => {
    record = await platformWithServer();
  });

  /** Ensures the child, lets the write it started (if any) end, and returns the ARM writes it sent. */
  async function ensure(child: PostgresChild) {
    const from = sandbox.arm.requests.length;
    const state = answerOf(await sandbox.activities.ensurePostgresChild({ platformId: record.id, child }));
    sandbox.settle();
    const writes = sandbox.armWrites(from);
    expect(state.mutated).toBe(writes.length > 0);
    return writes.map((w) => ({
      method: w.method,
      path: w.path.split('/').slice(-2).join('/'),
      body: w.body,
    }));
  }

  it('a configuration already at its value (in any case) is not written', async () => {
    // require_secure_transport is 'on' by default; the platform asks for 'ON'.
    expect(await ensure({ kind: 'configuration', name: 'require_secure_transport', value: 'ON' })).toEqual(
      [],
    );
  });

  it('a configuration that differs is written; a second call makes no write', async () => {
    const child: PostgresChild = { kind: 'configuration', name: 'azure.extensions', value: 'VECTOR' };
    expect(await ensure(child)).toEqual([
      {
        method: 'PUT',
        path: 'configurations/azure.extensions',
        body: { properties: { value: 'VECTOR', source: 'user-override' } },
      },
    ]);
    expect(await ensure(child)).toEqual([]);
  });

  it('a database is created once; a second call makes no write', async () => {
    const child: PostgresChild = { kind: 'database', name: 'openwebui' };
    expect(await ensure(child)).toMatchObject([{ method: 'PUT', path: 'databases/openwebui' }]);
    expect(await ensure(child)).toEqual([]);
  });

  it('a firewall rule is written once, and again only when its addresses change', async () => {
    const rule = { kind: 'firewallRule', name: 'aks-egress-1' } as const;
    const first = { ...rule, startIpAddress: '20.1.2.3', endIpAddress: '20.1.2.3' };
    expect(await ensure(first)).toEqual([
      {
        method: 'PUT',
        path: 'firewallRules/aks-egress-1',
        body: { properties: { startIpAddress: '20.1.2.3', endIpAddress: '20.1.2.3' } },
      },
    ]);
    expect(await ensure(first)).toEqual([]);
    expect(await ensure({ ...rule, startIpAddress: '20.1.2.4', endIpAddress: '20.1.2.4' })).toHaveLength(1);
  });
});

describe('beginPostgresServerPower', () => {
  let record: PlatformRecord;

  beforeEach(async () => {
    record = await platformWithServer();
  });

  it('a server Updating (another operation holds it): no stop is sent, its state is reported to be polled', async () => {
    answerOf(
      await sandbox.activities.ensurePostgresChild({
        platformId: record.id,
        child: { kind: 'configuration', name: 'azure.extensions', value: 'VECTOR' },
      }),
    );
    const from = sandbox.arm.requests.length;
    for (const action of ['stop', 'start'] as const)
      expect(
        answerOf(await sandbox.activities.beginPostgresServerPower({ platformId: record.id, action })),
      ).toEqual({ provisioningState: 'Updating', mutated: false });
    expect(sandbox.armWrites(from)).toEqual([]);
  });

  it('a stop refused during maintenance (409 ServerIsNotReady) is a busy refusal, to be waited out', async () => {
    sandbox.arm.faults.script('pg.stop', [armFault.pgMaintenance()]);
    expect(
      await sandbox.activities.beginPostgresServerPower({ platformId: record.id, action: 'stop' }),
    ).toEqual({
      ok: false,
      kind: 'busy',
      code: 'ServerIsNotReady',
      message: expect.stringContaining('Current Server State = Updating'),
    });
  });
});

/** The names of the secrets generated for every platform (all but the request's token), sorted. */
const generated = (record: PlatformRecord) =>
  Object.entries(record.names.secrets)
    .filter(([kind]) => kind !== 'huggingface-token')
    .map(([, name]) => name)
    .sort();

describe('platform secrets', () => {
  const versions = () => new Map([...sandbox.keyVault.secrets].map(([name, s]) => [name, s.version]));

  it('ensure generates each secret once; a second ensure keeps every version', async () => {
    const record = await sandbox.register('acme');
    const first = answerOf(await sandbox.activities.ensurePlatformSecrets({ platformId: record.id }));
    expect([...first.created].sort()).toEqual(generated(record));
    const before = versions();
    const writes = sandbox.keyVault.writes.length;

    expect(await sandbox.activities.ensurePlatformSecrets({ platformId: record.id })).toEqual({
      ok: true,
      value: { created: [], recovered: [] },
    });
    expect(sandbox.keyVault.writes.length).toBe(writes);
    expect(versions()).toEqual(before);
  });

  it('purge deletes and purges every secret; purging an already purged set succeeds', async () => {
    const record = await sandbox.platform();
    const purge = () => sandbox.activities.purgePlatformSecrets({ platformId: record.id });
    expect([...answerOf(await purge()).purged].sort()).toEqual(generated(record));
    expect(sandbox.keyVault.inventory()).toEqual([]);

    expect(await purge()).toEqual({ ok: true, value: { purged: [], softDeleted: [] } });
  });

  it('a purge frees the name seconds after its 204: ensure answers busy until then, then generates them again', async () => {
    const record = await sandbox.platform();
    const before = versions();
    await sandbox.activities.purgePlatformSecrets({ platformId: record.id });
    // Key Vault refuses the name while the purge runs (409, innererror ObjectIsBeingDeleted)…
    const raw = await sandbox.clients.secrets.setSecret(generated(record)[0]!, 'x').catch((e: unknown) => e);
    expect(raw).toMatchObject({
      statusCode: 409,
      details: { error: { innerError: { code: 'ObjectIsBeingDeleted' } } },
    });
    // …which the activity hands to the orchestrator to wait out.
    expect(await sandbox.activities.ensurePlatformSecrets({ platformId: record.id })).toMatchObject({
      ok: false,
      kind: 'busy',
      code: 'ObjectIsBeingDeleted',
    });
    sandbox.clock.advanceBy(5_000);
    const again = answerOf(await sandbox.activities.ensurePlatformSecrets({ platformId: record.id }));
    expect([...again.created].sort()).toEqual(generated(record));
    for (const [name, version] of versions()) expect(before.get(name)).not.toBe(version);
  });
});

describe('platform secrets in a vault with purge protection', () => {
  const DAY = 86_400_000;
  let vault: ActivitySandbox;
  beforeEach(async () => {
    vault = await startActivitySandbox({}, { purgeProtection: true });
  });
  const values = () => new Map([...vault.keyVault.secrets].map(([name, s]) => [name, s.value]));

  it('Key Vault refuses the purge (403) and reports the secret as not purgeable', async () => {
    const record = await vault.platform();
    const name = generated(record)[0]!;
    await (await vault.clients.secrets.beginDeleteSecret(name)).pollUntilDone();
    const deleted = await vault.clients.secrets.getDeletedSecret(name);
    expect(deleted.properties.recoveryLevel).toBe('Recoverable');
    expect(deleted.properties.scheduledPurgeDate?.getTime()).toBe(vault.clock.now() + 90 * DAY);
    await expect(vault.clients.secrets.purgeDeletedSecret(name)).rejects.toMatchObject({
      statusCode: 403,
      message: expect.stringMatching(/purge protection/),
    });
  });

  it('teardown deletes every secret and reports those kept soft-deleted, with their purge dates', async () => {
    const record = await vault.platform();
    const purged = answerOf(await vault.activities.purgePlatformSecrets({ platformId: record.id }));
    expect(purged.purged).toEqual([]);
    const until = new Date(vault.clock.now() + 90 * DAY).toISOString();
    expect(purged.softDeleted.map((s) => s.name).sort()).toEqual(generated(record));
    for (const s of purged.softDeleted) expect(s.scheduledPurgeDate).toBe(until);
    expect(vault.keyVault.inventory().every((s) => s.deleted)).toBe(true);
    // Called again (a replay), the same answer: nothing fails.
    expect(
      answerOf(await vault.activities.purgePlatformSecrets({ platformId: record.id })).softDeleted,
    ).toHaveLength(purged.softDeleted.length);
  });

  it('ensure recovers what an earlier platform of the prefix left soft-deleted, with its values, and writes nothing', async () => {
    const record = await vault.platform();
    const before = values();
    await vault.activities.purgePlatformSecrets({ platformId: record.id });
    const writes = vault.keyVault.writes.length;
    const again = answerOf(await vault.activities.ensurePlatformSecrets({ platformId: record.id }));
    expect(again.created).toEqual([]);
    expect([...again.recovered].sort()).toEqual(generated(record));
    expect(vault.keyVault.writes.length).toBe(writes);
    expect(values()).toEqual(before);
    expect(vault.keyVault.inventory().some((s) => s.deleted)).toBe(false);
  });

  it("the request's token over a soft-deleted name: recovered, then the request's value set", async () => {
    const record = await vault.platform();
    const name = record.names.secrets['huggingface-token'];
    await storeRequestSecret(vault.clients.secrets, name, 'hf_old');
    await vault.activities.purgePlatformSecrets({ platformId: record.id });
    await storeRequestSecret(vault.clients.secrets, name, 'hf_new');
    expect(vault.keyVault.secrets.get(name)?.value).toBe('hf_new');
  });
});

describe("the request's token over a name still being purged", () => {
  it('is written again after a pause until Key Vault frees the name', async () => {
    const record = await sandbox.platform();
    const name = record.names.secrets['huggingface-token'];
    await storeRequestSecret(sandbox.clients.secrets, name, 'hf_old');
    await sandbox.activities.purgePlatformSecrets({ platformId: record.id });
    const pauses: number[] = [];
    await storeRequestSecret(sandbox.clients.secrets, name, 'hf_new', async (ms) => {
      pauses.push(ms);
      sandbox.clock.advanceBy(ms);
    });
    expect(pauses.length).toBeGreaterThan(0);
    expect(sandbox.keyVault.secrets.get(name)?.value).toBe('hf_new');
  });
});
