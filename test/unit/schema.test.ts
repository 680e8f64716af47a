import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOWED_LOCATIONS } from '../../src/platform/catalog.js';
import { createRequestValidator } from '../../src/platform/schema.js';

const validator = createRequestValidator({
  allowedLocations: DEFAULT_ALLOWED_LOCATIONS,
  defaultIdleMinutes: 60,
});
const errorsOf = (body: unknown) => {
  const result = validator.validateCreate(body);
  if (result.ok) throw new Error('expected the body to be rejected');
  return result.errors;
};
const pointers = (body: unknown) => errorsOf(body).map((e) => e.pointer);

describe('create request schema', () => {
  it('applies every default to a minimal body', () => {
    const result = validator.validateCreate({ prefix: 'team42', models: ['llama3.1:8b'] });
    expect(result).toEqual({
      ok: true,
      value: {
        prefix: 'team42',
        models: ['llama3.1:8b'],
        location: DEFAULT_ALLOWED_LOCATIONS[0],
        gpu: { vmSize: 'Standard_NC4as_T4_v3', minNodes: 0, maxNodes: 2, spot: true },
        webui: { replicas: 3 },
        autoStop: { idleMinutes: 60, gpuIdleMinutes: 10, prewarm: true },
        network: { allowedSourceRanges: [] },
        tags: {},
      },
    });
  });

  it('takes autoStop.prewarm as a boolean only', () => {
    const body = { prefix: 'abc', models: ['phi3.5'], autoStop: { prewarm: false } };
    const result = validator.validateCreate(body);
    expect(result.ok && result.value.autoStop).toEqual({
      idleMinutes: 60,
      gpuIdleMinutes: 10,
      prewarm: false,
    });
    expect(pointers({ ...body, autoStop: { prewarm: 'no' } })).toEqual(['/autoStop/prewarm']);
  });

  it('does not modify the body it validates', () => {
    const body = { prefix: 'team42', models: ['phi3.5'] };
    validator.validateCreate(body);
    expect(body).toEqual({ prefix: 'team42', models: ['phi3.5'] });
  });

  it('names every bad field at once, each by its JSON pointer', () => {
    expect(
      pointers({
        prefix: '4x',
        models: [],
        location: 'mars',
        gpu: { vmSize: 'Standard_D4s_v3', minNodes: -1, maxNodes: 11, spot: 'yes' },
        webui: { replicas: 0 },
        autoStop: { idleMinutes: 5 },
        colour: 'blue',
      }).sort(),
    ).toEqual(
      [
        '/prefix',
        '/models',
        '/location',
        '/gpu/vmSize',
        '/gpu/minNodes',
        '/gpu/maxNodes',
        '/gpu/spot',
        '/webui/replicas',
        '/autoStop/idleMinutes',
        '/colour',
      ].sort(),
    );
  });

  it('reports missing required fields by their own pointer', () => {
    expect(pointers({})).toEqual(['/prefix', '/models']);
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'abcdefghijklm'],
    ['uppercase', 'Team42'],
    ['leading digit', '1team'],
    ['hyphen', 'team-42'],
  ])('rejects a prefix that is %s', (_, prefix) => {
    expect(errorsOf({ prefix, models: ['phi3.5'] })).toEqual([
      {
        pointer: '/prefix',
        message: 'must be 3–12 characters: a lowercase letter, then lowercase letters or digits',
      },
    ]);
  });

  it('accepts gpuIdleMinutes 0, 5 and 1440 (default 10) and rejects 4, 1441 and 1.5, saying the range', () => {
    for (const gpuIdleMinutes of [0, 5, 1440]) {
      const result = validator.validateCreate({
        prefix: 'abc',
        models: ['phi3.5'],
        autoStop: { gpuIdleMinutes },
      });
      expect(result.ok && result.value.autoStop.gpuIdleMinutes).toBe(gpuIdleMinutes);
    }
    for (const gpuIdleMinutes of [4, 1441, 1.5]) {
      const result = validator.validateCreate({
        prefix: 'abc',
        models: ['phi3.5'],
        autoStop: { gpuIdleMinutes },
      });
      expect(result.ok ? [] : result.errors).toEqual([
        expect.objectContaining({ pointer: '/autoStop/gpuIdleMinutes' }),
      ]);
    }
    const result = validator.validateCreate({
      prefix: 'abc',
      models: ['phi3.5'],
      autoStop: { gpuIdleMinutes: 4 },
    });
    expect(result.ok ? '' : result.errors[0]!.message).toBe('must be 0 (never) or an integer from 5 to 1440');
  });

  it('PATCH sets gpuIdleMinutes alone, validated as on create, with no change needing the cluster', () => {
    const current = validator.validateCreate({ prefix: 'abc', models: ['phi3.5'] });
    if (!current.ok) throw new Error('invalid');
    const spec = { ...current.value, huggingFaceToken: false };
    const result = validator.validateUpdate({ autoStop: { gpuIdleMinutes: 0 } }, spec);
    expect(result.ok && result.value.spec.autoStop).toEqual({
      idleMinutes: 60,
      gpuIdleMinutes: 0,
      prewarm: true,
    });
    expect(result.ok && result.value.change).toEqual({ addedModels: [], removedModels: [] });
    expect(validator.validateUpdate({ autoStop: { gpuIdleMinutes: 3 } }, spec).ok).toBe(false);
  });

  it('accepts idleMinutes 0, 15 and 1440 and rejects 14 and 1441', () => {
    for (const idleMinutes of [0, 15, 1440]) {
      expect(
        validator.validateCreate({ prefix: 'abc', models: ['phi3.5'], autoStop: { idleMinutes } }).ok,
      ).toBe(true);
    }
    for (const idleMinutes of [14, 1441, 1.5]) {
      expect(pointers({ prefix: 'abc', models: ['phi3.5'], autoStop: { idleMinutes } })).toEqual([
        '/autoStop/idleMinutes',
      ]);
    }
  });

  it('rejects minNodes above maxNodes', () => {
    expect(errorsOf({ prefix: 'abc', models: ['phi3.5'], gpu: { minNodes: 3, maxNodes: 2 } })).toEqual([
      { pointer: '/gpu/minNodes', message: 'must be ≤ gpu.maxNodes (2)' },
    ]);
  });

  it('rejects two references to the same model', () => {
    expect(pointers({ prefix: 'abc', models: ['llama3.1', 'library/llama3.1:latest'] })).toEqual([
      '/models/1',
    ]);
    expect(pointers({ prefix: 'abc', models: ['phi3.5', 'phi3.5'] })).toEqual(['/models']);
  });

  it('rejects a known model larger than the GPU memory, saying so', () => {
    const [error] = errorsOf({ prefix: 'abc', models: ['phi3.5', 'llama3.1:70b'] });
    expect(error?.pointer).toBe('/models/1');
    expect(error?.message).toMatch(
      /needs about 43 GiB of GPU memory; one T4 of Standard_NC4as_T4_v3 has 16 GiB/,
    );
  });

  it('accepts models it does not know, with namespace and tag', () => {
    expect(validator.validateCreate({ prefix: 'abc', models: ['acme/custom-model:q4_K_M'] }).ok).toBe(true);
  });

  it('rejects model references Ollama would not accept', () => {
    expect(pointers({ prefix: 'abc', models: ['Llama 3', 'a/b/c', ':tag'] })).toEqual([
      '/models/0',
      '/models/1',
      '/models/2',
    ]);
  });

  it('rejects reserved, malformed and too many tags', () => {
    expect(pointers({ prefix: 'abc', models: ['phi3.5'], tags: { 'managed-by': 'me' } })).toEqual([
      '/tags/managed-by',
    ]);
    expect(pointers({ prefix: 'abc', models: ['phi3.5'], tags: { 'a/b': 'x' } })).toEqual(['/tags/a~1b']);
    expect(pointers({ prefix: 'abc', models: ['phi3.5'], tags: { team: 'x'.repeat(257) } })).toEqual([
      '/tags/team',
    ]);
    const many = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`t${i}`, 'v']));
    expect(pointers({ prefix: 'abc', models: ['phi3.5'], tags: many })).toEqual(['/tags']);
  });

  it.each([null, 42, 'text', [], true])('rejects a body that is not an object (%j)', (body) => {
    expect(pointers(body)).toEqual(['']);
  });

  it('never echoes the Hugging Face token in an error', () => {
    const token = 'hf_secret value';
    const errors = errorsOf({ prefix: 'abc', models: ['phi3.5'], huggingFaceToken: token });
    expect(errors).toEqual([{ pointer: '/huggingFaceToken', message: 'must not contain whitespace' }]);
    expect(JSON.stringify(errors)).not.toContain('secret');
  });
});

describe('network.allowedSourceRanges', () => {
  const withRanges = (allowedSourceRanges: unknown) => ({
    prefix: 'abc',
    models: ['phi3.5'],
    network: { allowedSourceRanges },
  });

  it('accepts IPv4 and IPv6 CIDRs in any RFC 4291 spelling', () => {
    const ranges = [
      '203.0.113.0/24',
      '10.1.2.3/32',
      '0.0.0.0/0',
      '2001:db8::/32',
      '::/0',
      '::ffff:192.0.2.1/128',
    ];
    const result = validator.validateCreate(withRanges(ranges));
    expect(result.ok && result.value.network).toEqual({ allowedSourceRanges: ranges });
  });

  it('refuses what is not a CIDR, naming each entry and saying what a CIDR is', () => {
    // Not even the shape (the schema), then the shape but not a valid address or length (the rules).
    for (const bad of [
      ['203.0.113.0', 'any', '10.0.0.0/8 '],
      ['203.0.113.0/33', '256.0.0.0/8', '2001:db8:::/32', '::/129', '1::2::3/64', '10.0.0.0/08'],
    ]) {
      const errors = errorsOf(withRanges(['10.0.0.0/8', ...bad]));
      expect(errors.map((e) => e.pointer)).toEqual(
        bad.map((_, i) => `/network/allowedSourceRanges/${i + 1}`),
      );
      for (const e of errors) expect(e.message).toMatch(/must be an IPv4 or IPv6 CIDR/);
    }
  });

  it('refuses duplicates, too many ranges and unknown fields', () => {
    expect(pointers(withRanges(['10.0.0.0/8', '10.0.0.0/8']))).toEqual(['/network/allowedSourceRanges']);
    const many = Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`);
    expect(pointers(withRanges(many))).toEqual(['/network/allowedSourceRanges']);
    expect(pointers({ prefix: 'abc', models: ['phi3.5'], network: { open: true } })).toEqual([
      '/network/open',
    ]);
  });
});

describe('tag names, which Azure compares without case', () => {
  it('refuses our reserved tags in any case', () => {
    expect(errorsOf({ prefix: 'abc', models: ['phi3.5'], tags: { 'Managed-By': 'me' } })).toEqual([
      { pointer: '/tags/Managed-By', message: 'is reserved for the API (tag names are case-insensitive)' },
    ]);
  });

  it('refuses two tags that differ only in case', () => {
    expect(pointers({ prefix: 'abc', models: ['phi3.5'], tags: { Team: 'a', team: 'b' } })).toEqual([
      '/tags/team',
    ]);
  });
});

describe('update (PATCH) request schema', () => {
  const current = (() => {
    const r = validator.validateCreate({ prefix: 'abc', models: ['phi3.5', 'llama3.1:8b'] });
    if (!r.ok) throw new Error('fixture');
    return { ...r.value, huggingFaceToken: false };
  })();

  it('merges the given fields into the current spec and reports what needs the cluster', () => {
    const result = validator.validateUpdate(
      { models: ['llama3.1:8b', 'mistral:7b'], webui: { replicas: 1 } },
      current,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        spec: { ...current, models: ['llama3.1:8b', 'mistral:7b'], webui: { replicas: 1 } },
        change: {
          addedModels: ['mistral:7b'],
          removedModels: ['phi3.5'],
          replicas: { from: 3, to: 1 },
        },
      },
    });
  });

  it('replaces the allowed source ranges, validated as on create, and reports the new list as a change', () => {
    const result = validator.validateUpdate(
      { network: { allowedSourceRanges: ['203.0.113.0/24'] } },
      current,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        spec: { ...current, network: { allowedSourceRanges: ['203.0.113.0/24'] } },
        change: { addedModels: [], removedModels: [], allowedSourceRanges: ['203.0.113.0/24'] },
      },
    });
    // Back to anyone: an empty list is a change too; the same ranges in another order are none.
    const restricted = { ...current, network: { allowedSourceRanges: ['10.0.0.0/8', '2001:db8::/32'] } };
    const open = validator.validateUpdate({ network: { allowedSourceRanges: [] } }, restricted);
    expect(open.ok && open.value.change).toEqual({
      addedModels: [],
      removedModels: [],
      allowedSourceRanges: [],
    });
    const reordered = validator.validateUpdate(
      { network: { allowedSourceRanges: ['2001:db8::/32', '10.0.0.0/8'] } },
      restricted,
    );
    expect(reordered.ok && reordered.value.change).toEqual({ addedModels: [], removedModels: [] });
    // A record from before the field existed (no network) compares as anyone.
    const { network: _network, ...legacy } = current;
    const none = validator.validateUpdate({ network: { allowedSourceRanges: [] } }, legacy);
    expect(none.ok && none.value.change).toEqual({ addedModels: [], removedModels: [] });
    const pointersOf = (body: unknown) => {
      const r = validator.validateUpdate(body, current);
      return r.ok ? [] : r.errors.map((e) => e.pointer);
    };
    expect(pointersOf({ network: { allowedSourceRanges: ['10.0.0.0/33'] } })).toEqual([
      '/network/allowedSourceRanges/0',
    ]);
    expect(pointersOf({ network: {} })).toEqual(['/network/allowedSourceRanges']);
  });

  it('sees the same model under another spelling, or in another order, as no change', () => {
    const result = validator.validateUpdate({ models: ['llama3.1:8b', 'phi3.5:latest'] }, current);
    expect(result.ok && result.value.change).toEqual({ addedModels: [], removedModels: [] });
    const idle = validator.validateUpdate({ autoStop: { idleMinutes: 0 } }, current);
    expect(idle.ok && idle.value).toEqual({
      spec: { ...current, autoStop: { ...current.autoStop, idleMinutes: 0 } },
      change: { addedModels: [], removedModels: [] },
    });
    // One autoStop field alone changes only that one, and needs no flow either.
    const prewarm = validator.validateUpdate({ autoStop: { prewarm: false } }, current);
    expect(prewarm.ok && prewarm.value).toEqual({
      spec: { ...current, autoStop: { ...current.autoStop, prewarm: false } },
      change: { addedModels: [], removedModels: [] },
    });
  });

  it('refuses what the create refuses, naming the field, and fields a PATCH cannot change', () => {
    const pointersOf = (body: unknown) => {
      const r = validator.validateUpdate(body, current);
      return r.ok ? [] : r.errors.map((e) => e.pointer);
    };
    expect(pointersOf({})).toEqual(['']);
    expect(pointersOf({ models: ['phi3.5', 'phi3.5:latest'] })).toEqual(['/models/1']);
    expect(pointersOf({ models: ['llama3.1:70b'] })).toEqual(['/models/0']);
    expect(pointersOf({ webui: { replicas: 0 } })).toEqual(['/webui/replicas']);
    expect(pointersOf({ webui: { adminEmail: 'a@b.c' } }).sort()).toEqual([
      '/webui/adminEmail',
      '/webui/replicas',
    ]);
    expect(pointersOf({ autoStop: { idleMinutes: 3 } })).toEqual(['/autoStop/idleMinutes']);
    expect(pointersOf({ autoStop: { prewarm: 1 } })).toEqual(['/autoStop/prewarm']);
    expect(pointersOf({ autoStop: {} })).toEqual(['/autoStop']);
    expect(pointersOf({ location: 'westeurope', tags: {} })).toEqual(['/location', '/tags']);
    // Validation never changes the caller's objects.
    expect(current.models).toEqual(['phi3.5', 'llama3.1:8b']);
  });
});
