import { randomBytes } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import {
  createTableRegistry,
  RegistryConflictError,
  RegistryNotFoundError,
  RegistryStaleError,
  type Registry,
} from '../../src/registry/registry.js';
import type { PlatformRecord, StepRecord } from '../../src/platform/types.js';
import { makeRecord } from '../support/records.js';

// One table per file keeps test files independent of each other; each test uses its own id.
const registry: Registry = createTableRegistry(
  inject('azuriteConnection'),
  `registry${randomBytes(6).toString('hex')}`,
);
let counter = 0;
const newId = () => `plat${counter++}`;
const step = (name: string): StepRecord => ({ name, state: 'succeeded' });
const withoutEtag = ({ etag: _etag, ...rest }: PlatformRecord) => rest;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('table registry', () => {
  it('create then get round-trips every field and returns an etag', async () => {
    const record = makeRecord(newId(), {
      phase: 'Failed',
      resourceIds: { resourceGroup: '/subscriptions/x/resourceGroups/rg' },
      endpoints: { webui: 'https://webui.example' },
      steps: [
        {
          name: 'resourceGroup',
          state: 'failed',
          startedAt: 'a',
          endedAt: 'b',
          error: { code: 'C', message: 'M' },
        },
      ],
      models: { 'llama3.1:8b': 'pulling' },
      lastError: { step: 'resourceGroup', code: 'C', message: 'M' },
      lastActiveAt: '2025-01-01T00:00:00.000Z',
    });

    const created = await registry.create(record);
    const read = await registry.get(record.id);

    expect(created.etag).toBeTruthy();
    expect(withoutEtag(created)).toEqual(record);
    expect(read).toEqual(created);
  });

  it('get of an unknown id returns undefined', async () => {
    expect(await registry.get(newId())).toBeUndefined();
  });

  it('a second create of a live id throws RegistryConflictError and leaves the first untouched', async () => {
    const first = await registry.create(makeRecord(newId(), { endpoints: { webui: 'first' } }));

    await expect(registry.create(makeRecord(first.id, { endpoints: { webui: 'second' } }))).rejects.toThrow(
      RegistryConflictError,
    );
    expect(await registry.get(first.id)).toEqual(first);
  });

  it('10 concurrent creates of the same id: exactly one wins, nine get RegistryConflictError', async () => {
    const id = newId();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        registry.create(makeRecord(id, { endpoints: { writer: String(i) } })),
      ),
    );

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((r) => r.reason)).toEqual(
      Array.from({ length: 9 }, () => expect.any(RegistryConflictError)),
    );
    expect(await registry.get(id)).toEqual(won[0]?.value);
  });

  it('update applies the change, and no concurrent writer is lost (ETag retry, no silent overwrite)', async () => {
    const { id } = await registry.create(makeRecord(newId()));

    // 10 attempts always suffice for 10 writers: each lost attempt means another writer succeeded.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        registry.update(id, (current) => ({ ...current, steps: [...current.steps, step(`s${i}`)] }), {
          attempts: 10,
        }),
      ),
    );

    const names = (await registry.get(id))?.steps.map((s) => s.name);
    expect(names?.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `s${i}`).sort());
  });

  it('update returns the stored record with a new etag', async () => {
    const created = await registry.create(makeRecord(newId()));

    const updated = await registry.update(created.id, (current) => ({ ...current, phase: 'Provisioning' }));

    expect(updated.phase).toBe('Provisioning');
    expect(updated.etag).toBeTruthy();
    expect(updated.etag).not.toBe(created.etag);
    expect(await registry.get(created.id)).toEqual(updated);
  });

  it('update removes optional fields the change drops', async () => {
    const created = await registry.create(makeRecord(newId(), { lastError: { code: 'C', message: 'M' } }));

    const updated = await registry.update(created.id, ({ lastError: _lastError, ...rest }) => rest);

    expect(updated.lastError).toBeUndefined();
    expect((await registry.get(created.id))?.lastError).toBeUndefined();
  });

  describe('under a forced conflict (another update lands between read and write)', () => {
    // Deterministic: the first conditional write of the registry first lets an interloping update land.
    const forceOneConflict = (id: string) => {
      const original = TableClient.prototype.updateEntity;
      let interloped = false;
      vi.spyOn(TableClient.prototype, 'updateEntity').mockImplementation(async function (
        this: TableClient,
        ...args
      ) {
        if (!interloped) {
          interloped = true;
          await registry.update(id, (current) => ({
            ...current,
            steps: [...current.steps, step('interloper')],
          }));
        }
        return original.apply(this, args);
      });
    };

    it('update with attempts=1 throws RegistryStaleError and writes nothing of its own', async () => {
      const { id } = await registry.create(makeRecord(newId()));
      forceOneConflict(id);
      const change = vi.fn((current: PlatformRecord) => ({
        ...current,
        steps: [...current.steps, step('mine')],
      }));

      await expect(registry.update(id, change, { attempts: 1 })).rejects.toThrow(RegistryStaleError);

      expect(change).toHaveBeenCalledTimes(1);
      expect((await registry.get(id))?.steps.map((s) => s.name)).toEqual(['interloper']);
    });

    it('update with the default attempts re-applies the change to the fresh record', async () => {
      const { id } = await registry.create(makeRecord(newId()));
      forceOneConflict(id);
      const change = vi.fn((current: PlatformRecord) => ({
        ...current,
        steps: [...current.steps, step('mine')],
      }));

      const updated = await registry.update(id, change);

      expect(change).toHaveBeenCalledTimes(2);
      expect(updated.steps.map((s) => s.name)).toEqual(['interloper', 'mine']);
    });
  });

  it('update returning undefined writes nothing (etag unchanged)', async () => {
    const created = await registry.create(makeRecord(newId()));

    const result = await registry.update(created.id, (current) => {
      current.phase = 'Ready'; // mutating the copy must not leak into the result
      return undefined;
    });

    expect(result).toEqual(created);
    expect(await registry.get(created.id)).toEqual(created);
  });

  it('update of an unknown id throws RegistryNotFoundError', async () => {
    await expect(registry.update(newId(), (current) => current)).rejects.toThrow(RegistryNotFoundError);
  });

  it('after the record is marked Deleted, create with the same id succeeds and history keeps the Deleted one', async () => {
    const id = newId();
    await registry.create(makeRecord(id));
    const deleted = await registry.update(id, (current) => ({
      ...current,
      phase: 'Deleted',
      operation: 'delete',
      updatedAt: '2025-02-01T00:00:00.000Z',
    }));
    expect(await registry.history(id)).toEqual([]);

    const recreated = await registry.create(makeRecord(id, { createdAt: '2025-03-01T00:00:00.000Z' }));

    expect(await registry.get(id)).toEqual(recreated);
    expect(recreated.phase).toBe('Pending');
    const history = await registry.history(id);
    expect(history.map(withoutEtag)).toEqual([withoutEtag(deleted)]);
  });

  it('history lists archived records newest first', async () => {
    const id = newId();
    const deleteAt = (updatedAt: string) =>
      registry.update(id, (current) => ({ ...current, phase: 'Deleted', updatedAt }));
    await registry.create(makeRecord(id));
    await deleteAt('2025-01-01T00:00:00.000Z');
    await registry.create(makeRecord(id));
    await deleteAt('2025-02-01T00:00:00.000Z');
    await registry.create(makeRecord(id));

    expect((await registry.history(id)).map((r) => r.updatedAt)).toEqual([
      '2025-02-01T00:00:00.000Z',
      '2025-01-01T00:00:00.000Z',
    ]);
  });

  it('concurrent re-creates of a Deleted id: exactly one wins and one archive is written', async () => {
    const id = newId();
    await registry.create(makeRecord(id));
    await registry.update(id, (current) => ({ ...current, phase: 'Deleted' }));

    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => registry.create(makeRecord(id))),
    );

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => r.reason)).toEqual(
      Array.from({ length: 4 }, () => expect.any(RegistryConflictError)),
    );
    expect(await registry.history(id)).toHaveLength(1);
  });

  it('a re-create that loses the race to another re-create of a Deleted id throws RegistryConflictError', async () => {
    const id = newId();
    await registry.create(makeRecord(id));
    await registry.update(id, (current) => ({ ...current, phase: 'Deleted' }));
    // Deterministic race: the other re-create completes between our read of the Deleted row and our transaction.
    const original = TableClient.prototype.submitTransaction;
    let other: Promise<PlatformRecord> | undefined;
    vi.spyOn(TableClient.prototype, 'submitTransaction').mockImplementation(async function (
      this: TableClient,
      ...args
    ) {
      if (!other) {
        other = registry.create(makeRecord(id, { endpoints: { webui: 'other' } }));
        await other;
      }
      return original.apply(this, args);
    });

    await expect(registry.create(makeRecord(id, { endpoints: { webui: 'mine' } }))).rejects.toThrow(
      RegistryConflictError,
    );
    expect((await registry.get(id))?.endpoints).toEqual({ webui: 'other' });
    expect(await registry.history(id)).toHaveLength(1);
  });

  it('list returns current records only, sorted by id, hiding Deleted unless includeDeleted', async () => {
    // A table of its own, so records of the other tests do not interfere.
    const own = createTableRegistry(inject('azuriteConnection'), `list${randomBytes(6).toString('hex')}`);
    for (const id of ['charlie', 'alpha', 'delta', 'bravo']) await own.create(makeRecord(id));
    await own.update('delta', (current) => ({ ...current, phase: 'Deleted' }));
    await own.create(makeRecord('delta')); // archives the Deleted delta
    await own.update('delta', (current) => ({ ...current, phase: 'Deleted' }));
    await own.update('bravo', (current) => ({ ...current, phase: 'Ready' }));

    expect((await own.list()).map((r) => [r.id, r.phase])).toEqual([
      ['alpha', 'Pending'],
      ['bravo', 'Ready'],
      ['charlie', 'Pending'],
    ]);
    expect((await own.list({ includeDeleted: true })).map((r) => [r.id, r.phase])).toEqual([
      ['alpha', 'Pending'],
      ['bravo', 'Ready'],
      ['charlie', 'Pending'],
      ['delta', 'Deleted'],
    ]);
    expect((await own.list())[0]?.etag).toBeTruthy();
  });

  it('list with phases returns only those (the queue and the deletions admission counts), and keeps the subscription', async () => {
    const own = createTableRegistry(inject('azuriteConnection'), `phases${randomBytes(6).toString('hex')}`);
    await own.create(makeRecord('queued1', { phase: 'Queued', subscriptionId: 'sub-b' }));
    await own.create(makeRecord('going', { phase: 'Deleting' }));
    await own.create(makeRecord('ready', { phase: 'Ready' }));
    expect((await own.list({ phases: ['Queued', 'Deleting'] })).map((r) => r.id)).toEqual([
      'going',
      'queued1',
    ]);
    const [queued] = await own.list({ phases: ['Queued'] });
    expect(queued).toMatchObject({ id: 'queued1', subscriptionId: 'sub-b' });
    expect((await own.get('ready'))?.subscriptionId).toBeUndefined();
  });

  it('a JSON column over the size limit is refused with the column named', async () => {
    const record = makeRecord(newId(), { endpoints: { huge: 'x'.repeat(40_000) } });

    await expect(registry.create(record)).rejects.toThrow(/'endpoints'/);
    expect(await registry.get(record.id)).toBeUndefined();
  });
});
