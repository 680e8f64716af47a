/**
 * Property-based fuzzing of `POST /platforms` through the real app (host emulation, Azurite, simulated
 * durable runtime). Whatever arrives, the API answers with a 2xx for a valid body or a 4xx problem+json
 * for anything else, never a 5xx and never an exception, and an invalid request leaves no trace: no
 * registry record and no orchestration. Runs use a fixed seed; a failure prints the seed and path that
 * reproduce it (fast-check's report), plus the shrunk counterexample.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalModel,
  DEFAULT_ALLOWED_LOCATIONS,
  knownModel,
  T4_VM_SIZES,
} from '../../src/platform/catalog.js';
import { PREFIX_PATTERN } from '../../src/platform/naming.js';
import { LIMITS } from '../../src/platform/policy.js';
import { createRequestValidator, MODEL_PATTERN } from '../../src/platform/schema.js';
import type { Registry } from '../../src/registry/registry.js';
import { startTestApp, type Reply, type TestApp } from '../support/harness.js';

const SEED = 20_240_601;
const MIN_CASES = 500;

let app: TestApp;
let registry: Registry;
beforeAll(async () => {
  app = await startTestApp();
  registry = (await import('../../src/composition.js')).getServices().registry;
  // The generators below draw locations from the default list: the app must be configured with it.
  expect(app.config.allowedLocations).toEqual(DEFAULT_ALLOWED_LOCATIONS);
});
afterAll(() => app?.close());

// ---------------------------------------------------------------------------------------------------------
// Book-keeping shared by every family: how many requests were sent, which 5xx answers came back, and which
// prefixes legitimately created a platform (so "nothing recorded" can be checked for every other one).

type Family = 'valid' | 'near-valid' | 'garbage';
const sent: Record<Family, number> = { valid: 0, 'near-valid': 0, garbage: 0 };
const serverErrors: Array<{ family: Family; status: number; sample: string }> = [];
const created = new Set<string>();

/** Independent oracle used only to check the generators themselves (never the answer under test). */
const oracle = createRequestValidator({
  allowedLocations: DEFAULT_ALLOWED_LOCATIONS,
  defaultIdleMinutes: 60,
});
const isValidBody = (text: string): boolean => {
  try {
    return oracle.validateCreate(JSON.parse(text)).ok;
  } catch {
    return false;
  }
};

const PREFIX_RE = new RegExp(PREFIX_PATTERN);
const MODEL_RE = new RegExp(MODEL_PATTERN, 'u');
// The Azure tag-name rule the schema enforces, restated: none of < > % & \ ? / and no control characters.
const TAG_NAME_RE = /^[^<>%&\\?/\p{Cc}]+$/u;
const RESERVED_TAGS = ['managed-by', 'platform-id'];
const codePoints = (s: string) => [...s].length;
const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');
const JSON_POINTER = /^(?:\/(?:[^~]|~[01])*)*$/;
const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

interface Request {
  path?: string;
  /** A JSON text (or any text) sent as the body; '' sends no body. */
  text?: string;
  bytes?: Uint8Array;
  /** Overrides the content type; null sends none. */
  contentType?: string | null;
  headers?: Record<string, string>;
}

/** One POST /platforms. Text goes through the harness; raw bytes straight to the host emulation. */
async function post(family: Family, req: Request): Promise<Reply> {
  const path = req.path ?? '/platforms';
  sent[family]++;
  let reply: Reply;
  if (req.bytes !== undefined || req.contentType === null) {
    const headers: Record<string, string> = { 'x-functions-key': app.functionKey, ...req.headers };
    if (req.contentType !== null) headers['content-type'] = req.contentType ?? 'application/json';
    const res = await app.host.http({
      method: 'POST',
      url: `http://127.0.0.1:7071${path}`,
      headers,
      body: req.bytes ?? req.text,
    });
    let json: unknown;
    try {
      json = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      json = undefined;
    }
    reply = { status: res.status, headers: res.headers, text: res.body, json };
  } else {
    reply = await app.call('POST', path, {
      raw: req.text ?? '',
      headers: {
        'content-type': req.contentType ?? 'application/json',
        ...req.headers,
      },
    });
  }
  if (reply.status >= 500) {
    const sample = req.text ?? (req.bytes ? `bytes[${req.bytes.length}]` : '');
    serverErrors.push({ family, status: reply.status, sample: sample.slice(0, 300) });
  }
  return reply;
}

/** A 4xx problem+json in the documented shape; `errors`, when present, are JSON pointers with messages. */
function expectProblem(reply: Reply, statuses: readonly number[] = [400, 413, 415]) {
  expect(reply.status, reply.text.slice(0, 500)).toBeGreaterThanOrEqual(400);
  expect(reply.status, reply.text.slice(0, 500)).toBeLessThan(500);
  expect(statuses).toContain(reply.status);
  expect(reply.headers['content-type']).toBe('application/problem+json');
  const body = reply.json as Record<string, unknown>;
  expect(body).toMatchObject({
    type: expect.stringMatching(/^\/problems\/[a-z-]+$/),
    title: expect.any(String),
    status: reply.status,
    detail: expect.any(String),
  });
  if (body.errors !== undefined) expectFieldErrors(body.errors);
}

function expectFieldErrors(errors: unknown): asserts errors is Array<{ pointer: string; message: string }> {
  expect(Array.isArray(errors)).toBe(true);
  expect((errors as unknown[]).length).toBeGreaterThan(0);
  for (const e of errors as Array<Record<string, unknown>>) {
    expect(typeof e.pointer, JSON.stringify(e)).toBe('string');
    expect(e.pointer as string).toMatch(JSON_POINTER);
    expect(typeof e.message, JSON.stringify(e)).toBe('string');
    expect((e.message as string).length).toBeGreaterThan(0);
  }
}

/** The refused request left nothing behind for this prefix: no registry record, no orchestration. */
async function expectNothingRecorded(prefix: unknown) {
  if (typeof prefix !== 'string' || created.has(prefix)) return;
  for (const instanceId of [prefix, `${prefix}:teardown`]) {
    expect(app.instances.instances.has(instanceId), `instance ${instanceId}`).toBe(false);
  }
  // Only a well-formed id can be a Table key; any other string is covered by the final listing.
  if (PREFIX_RE.test(prefix)) expect(await registry.get(prefix)).toBeUndefined();
}

const prefixOf = (text: string): unknown => {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>).prefix : undefined;
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------------------------------------------------
// Valid bodies, generated from the schema's rules.

type Body = Record<string, unknown>;

/** Sets an own property, even `__proto__`, as JSON.parse would. */
function put(target: Record<string, unknown>, key: string, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const KNOWN_MODELS = [
  'llama3.1:8b',
  'phi3.5',
  'gemma2:2b',
  'llama3.2',
  'llama3.2:1b',
  'mistral:7b',
  'qwen2.5:7b',
  'deepseek-r1',
  'gpt-oss:20b',
  'nomic-embed-text',
  'library/llama3.1',
];
const UNKNOWN_MODELS = ['acme/custom:q4', 'tinyllama', 'my-org/my.model_v2:Q4_K_M', 'a', 'x1'];
const fitsOneT4 = (m: string) => (knownModel(m)?.gpuMemoryGiB ?? 0) <= 16;
const modelRef = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN_MODELS) },
  { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN_MODELS) },
  { weight: 1, arbitrary: fc.stringMatching(MODEL_RE).filter((m) => m.length <= 200 && fitsOneT4(m)) },
);

const tagName = fc.oneof(
  fc.constantFrom('team', 'cost-center', 'env~1', 'a b', 'ünïcødé 🏷', '__proto__', 'constructor', 'toString'),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: LIMITS.tags.maxNameLength })
    .filter((n) => TAG_NAME_RE.test(n) && !RESERVED_TAGS.includes(n)),
);
const tagValue = fc.string({ unit: 'binary', maxLength: LIMITS.tags.maxValueLength });
const tags = fc
  .uniqueArray(fc.tuple(tagName, tagValue), { maxLength: LIMITS.tags.maxPairs, selector: ([name]) => name })
  .map((entries) => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of entries) put(out, name, value);
    return out;
  });

const gpu = fc
  .record(
    {
      vmSize: fc.constantFrom(...Object.keys(T4_VM_SIZES)),
      minNodes: fc.integer({ min: 0, max: LIMITS.gpuNodes.max }),
      maxNodes: fc.integer({ min: 1, max: LIMITS.gpuNodes.max }),
      spot: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .map((g) => {
    // minNodes ≤ maxNodes, counting the defaults (0 and 2) for an absent one.
    if ((g.minNodes ?? 0) > (g.maxNodes ?? 2)) {
      if (g.maxNodes === undefined) g.maxNodes = g.minNodes;
      else g.minNodes = g.maxNodes;
    }
    return g;
  });

const token = fc
  .string({ unit: 'grapheme-ascii', minLength: 8, maxLength: 100 })
  .filter((s) => /^\S+$/u.test(s));

const validBody: fc.Arbitrary<Body> = fc.record(
  {
    prefix: fc.stringMatching(/^[a-y][a-z0-9]{2,11}$/),
    models: fc.uniqueArray(modelRef, {
      minLength: LIMITS.models.min,
      maxLength: LIMITS.models.max,
      selector: canonicalModel,
    }),
    location: fc.constantFrom(...DEFAULT_ALLOWED_LOCATIONS),
    gpu,
    webui: fc.record(
      { replicas: fc.integer({ min: LIMITS.webuiReplicas.min, max: LIMITS.webuiReplicas.max }) },
      { requiredKeys: [] },
    ),
    autoStop: fc.record(
      { idleMinutes: fc.oneof(fc.constant(0), fc.integer({ min: 15, max: 1440 })) },
      { requiredKeys: [] },
    ),
    huggingFaceToken: token,
    tags,
  },
  { requiredKeys: ['prefix', 'models'] },
);

// ---------------------------------------------------------------------------------------------------------
// Near-valid bodies: one field made wrong. `expect` is the pointer that must be among the errors (the
// mutated field itself; an error on one of its children also names it).

type Mutation =
  | { op: 'set'; path: string[]; value: unknown; expect?: string }
  | { op: 'delete'; field: 'prefix' | 'models' }
  | { op: 'setModel'; index: number; value: unknown; expect?: 'item' | 'models' }
  | { op: 'duplicateModel' };

const jsonGarbage = fc.jsonValue({ maxDepth: 4 });
const nestedObject = fc.dictionary(fc.string(), jsonGarbage, { minKeys: 0, maxKeys: 4 });
const nestedArray = fc.array(jsonGarbage, { minLength: 1, maxLength: 4 });
const finiteNonInteger = fc
  .double({ noNaN: true, noDefaultInfinity: true })
  .filter((d) => !Number.isInteger(d));
const hugeString = fc.constantFrom(
  'x'.repeat(25_000),
  '🦙'.repeat(5_000),
  '\u0000'.repeat(1_000),
  'é'.repeat(10_000),
);
const unicodeString = fc.string({ unit: 'binary', maxLength: 40 });
const nonString = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  finiteNonInteger,
  nestedArray,
  nestedObject,
);
const nonInteger = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string(),
  finiteNonInteger,
  nestedArray,
  nestedObject,
);
const nonBoolean = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.constantFrom('true', 'false', ''),
  fc.string(),
  nestedArray,
  nestedObject,
);
const nonObject = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string(),
  hugeString,
  nestedArray,
);
const nonArray = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string(), nestedObject);
const outside = (min: number, max: number) =>
  fc.oneof(fc.integer({ min: -1_000_000, max: min - 1 }), fc.integer({ min: max + 1, max: 2 ** 53 - 1 }));

const set = (path: string[], value: fc.Arbitrary<unknown>, expect?: string): fc.Arbitrary<Mutation> =>
  value.map((v) =>
    expect === undefined ? { op: 'set', path, value: v } : { op: 'set', path, value: v, expect },
  );

const badPrefix = fc.oneof(
  nonString,
  hugeString,
  fc.constantFrom(
    '',
    'ab',
    'Team42',
    '1team',
    'team_42',
    'tëam',
    'ｔｅａｍ',
    'team42 ',
    'abcdefghijklm',
    'team\n',
  ),
  unicodeString.filter((s) => !PREFIX_RE.test(s)),
);
const badModelRef = fc.oneof(
  nonString,
  hugeString,
  fc.constantFrom(
    '',
    'Llama3',
    'llama:',
    '/x',
    'a'.repeat(201),
    'llama3.1:8b ',
    'll ama',
    'llama3.1:70b',
    'deepseek-r1:671b',
  ),
  unicodeString.filter((s) => !MODEL_RE.test(s)),
);
const KNOWN_TOP = ['prefix', 'models', 'location', 'gpu', 'webui', 'autoStop', 'huggingFaceToken', 'tags'];
const extraName = (known: string[]) =>
  fc
    .oneof(
      fc.constantFrom('extra', '__proto__', 'constructor', 'toString', '', 'a/b', '~', 'Prefix', 'ünï'),
      fc.string({ unit: 'binary', maxLength: 20 }),
    )
    .filter((n) => !known.includes(n));
const badTagName = fc.oneof(
  fc.constantFrom(
    '',
    'a/b',
    'a<b',
    'x>y',
    '100%',
    'a&b',
    'back\\slash',
    'what?',
    'tab\there',
    'nul\u0000',
    'del\u007f',
  ),
  fc.constantFrom(...RESERVED_TAGS, 'x'.repeat(129)),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 150 })
    .filter((n) => !TAG_NAME_RE.test(n) || codePoints(n) > LIMITS.tags.maxNameLength),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // prefix
  set(['prefix'], badPrefix),
  fc.constant<Mutation>({ op: 'delete', field: 'prefix' }),
  // models
  set(['models'], nonArray),
  set(['models'], fc.constant([])),
  set(['models'], fc.constant(['mistral', 'library/mistral:latest']), '/models/1'),
  set(
    ['models'],
    fc.uniqueArray(fc.constantFrom(...KNOWN_MODELS, ...UNKNOWN_MODELS), { minLength: 11, maxLength: 16 }),
  ),
  set(['models'], fc.array(nestedArray, { minLength: 1, maxLength: 3 })),
  fc.record({ op: fc.constant('setModel' as const), index: fc.nat(12), value: badModelRef }),
  fc.constant<Mutation>({ op: 'delete', field: 'models' }),
  fc.constant<Mutation>({ op: 'duplicateModel' }),
  // location
  set(
    ['location'],
    fc
      .oneof(nonString, hugeString, unicodeString, fc.constantFrom('EastUS', 'westus', 'eastus '))
      .filter((l) => !(DEFAULT_ALLOWED_LOCATIONS as readonly unknown[]).includes(l)),
  ),
  // gpu
  set(['gpu'], nonObject),
  set(
    ['gpu', 'vmSize'],
    fc
      .oneof(nonString, unicodeString, fc.constantFrom('Standard_NC6s_v3', 'standard_nc4as_t4_v3'))
      .filter((v) => !Object.keys(T4_VM_SIZES).includes(v as string)),
  ),
  set(['gpu', 'minNodes'], fc.oneof(nonInteger, outside(0, LIMITS.gpuNodes.max))),
  set(['gpu', 'maxNodes'], fc.oneof(nonInteger, outside(1, LIMITS.gpuNodes.max))),
  set(['gpu', 'spot'], nonBoolean),
  set(['gpu'], fc.constant({ minNodes: 5, maxNodes: 3 }), '/gpu/minNodes'),
  extraName(['vmSize', 'minNodes', 'maxNodes', 'spot']).chain((n) => set(['gpu', n], jsonGarbage)),
  // webui
  set(['webui'], nonObject),
  set(
    ['webui', 'replicas'],
    fc.oneof(nonInteger, outside(LIMITS.webuiReplicas.min, LIMITS.webuiReplicas.max)),
  ),
  extraName(['replicas']).chain((n) => set(['webui', n], jsonGarbage)),
  // autoStop
  set(['autoStop'], nonObject),
  set(['autoStop', 'idleMinutes'], fc.oneof(nonInteger, fc.integer({ min: 1, max: 14 }), outside(0, 1440))),
  extraName(['idleMinutes']).chain((n) => set(['autoStop', n], jsonGarbage)),
  // huggingFaceToken
  set(
    ['huggingFaceToken'],
    fc.oneof(
      nonString,
      fc.string({ maxLength: 7 }),
      fc.constantFrom('hf_abc def', 'hf_abcdefg\n', 'hf_\u00a0abcdefgh', 'a'.repeat(513), ' hf_abcdefgh'),
    ),
  ),
  // tags
  set(['tags'], fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string(), nestedArray)),
  set(
    ['tags'],
    fc
      .uniqueArray(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: 16, maxLength: 20 })
      .map((names) => Object.fromEntries(names.map((n) => [n, 'v']))),
  ),
  badTagName.map((n): Mutation => ({ op: 'set', path: ['tags', n], value: 'v' })),
  fc
    .tuple(fc.constantFrom('team', 'owner'), fc.oneof(nonString, fc.constant('v'.repeat(257)), hugeString))
    .map(([n, v]): Mutation => ({ op: 'set', path: ['tags', n], value: v })),
  // unknown top-level property
  extraName(KNOWN_TOP).chain((n) => set([n], jsonGarbage)),
);

/** Applies the mutation to a copy of the body; returns the mutated body and the pointer that must be named. */
function mutate(base: Body, m: Mutation): { body: Body; pointer: string } {
  const body = structuredClone(base);
  const models = body.models as unknown[];
  switch (m.op) {
    case 'delete':
      delete body[m.field];
      return { body, pointer: `/${m.field}` };
    case 'duplicateModel':
      models.push(models[0]);
      return { body, pointer: '/models' };
    case 'setModel': {
      const index = Math.min(m.index, models.length);
      models[index] = m.value;
      return { body, pointer: `/models/${index}` };
    }
    case 'set': {
      let target: Record<string, unknown> = body;
      for (const key of m.path.slice(0, -1)) {
        const next = Object.hasOwn(target, key) ? target[key] : undefined;
        if (next === null || typeof next !== 'object' || Array.isArray(next)) put(target, key, {});
        target = target[key] as Record<string, unknown>;
      }
      put(target, m.path.at(-1)!, m.value);
      return { body, pointer: m.expect ?? `/${m.path.map(escapePointer).join('/')}` };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------

const fcParams = (numRuns: number) => ({ seed: SEED, numRuns, endOnFailure: false });

describe('POST /platforms under fuzzing', () => {
  it('answers every valid body on a dry run with 200 and its plan, and records nothing', async () => {
    await fc.assert(
      fc.asyncProperty(validBody, async (body) => {
        const text = JSON.stringify(body);
        expect(isValidBody(text), 'generator produced an invalid body').toBe(true);
        const reply = await post('valid', { path: '/platforms?dryRun=true', text });
        expect(reply.status, reply.text.slice(0, 500)).toBe(200);
        expect(reply.headers['content-type']).toBe('application/json');
        expect(reply.json).toMatchObject({ dryRun: true, plan: { id: body.prefix } });
        await expectNothingRecorded(body.prefix);
      }),
      fcParams(200),
    );
  }, 60_000);

  it('creates every valid body with 202 (409 for a prefix already taken), recording it and starting its provisioning', async () => {
    let counter = 0;
    let last: string | undefined;
    await fc.assert(
      fc.asyncProperty(validBody, fc.integer({ min: 0, max: 4 }), async (generated, reuse) => {
        // Unique prefixes from a counter (z00, z01, …): nothing else in this file starts with z; now and
        // then the previous one again, which must be refused.
        const again = reuse === 0 && last !== undefined;
        const prefix = again ? last! : `z${String(counter++).padStart(2, '0')}`;
        const text = JSON.stringify({ ...generated, prefix });
        const reply = await post('valid', { text });
        if (again) {
          expectProblem(reply, [409]);
        } else {
          expect(reply.status, reply.text.slice(0, 500)).toBe(202);
          expect(reply.headers.location).toBe(`/platforms/${prefix}/status`);
          created.add(prefix);
          last = prefix;
        }
        // The sandbox's durable driver may already be running the flow: any phase but Deleted will do.
        const record = await registry.get(prefix);
        expect(record).toMatchObject({ id: prefix, spec: { prefix } });
        expect(record!.phase).not.toBe('Deleted');
        expect(app.instances.instances.get(prefix)).toMatchObject({ name: 'provisionPlatform' });
      }),
      fcParams(40),
    );
  }, 60_000);

  it('refuses every body with one wrong field with 400 naming that field by JSON pointer, and records nothing', async () => {
    await fc.assert(
      fc.asyncProperty(validBody, mutation, fc.boolean(), async (base, m, dryRun) => {
        const { body, pointer } = mutate(base, m);
        const text = JSON.stringify(body);
        expect(isValidBody(text), `mutation left the body valid: ${text.slice(0, 300)}`).toBe(false);
        const reply = await post('near-valid', {
          path: dryRun ? '/platforms?dryRun=true' : '/platforms',
          text,
        });
        if (utf8(text) > LIMITS.maxBodyBytes) {
          expectProblem(reply, [413]);
        } else {
          expectProblem(reply, [400]);
          expect(reply.json.type).toBe('/problems/validation');
          expectFieldErrors(reply.json.errors);
          const pointers = reply.json.errors.map((e: { pointer: string }) => e.pointer);
          expect(
            pointers.some((p: string) => p === pointer || p.startsWith(`${pointer}/`)),
            `expected ${JSON.stringify(pointer)} among ${JSON.stringify(pointers)}`,
          ).toBe(true);
        }
        await expectNothingRecorded(body.prefix);
      }),
      fcParams(300),
    );
  }, 60_000);

  it('refuses arbitrary JSON values with a 4xx problem and records nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), fc.jsonValue(), fc.object()), async (value) => {
        const text = JSON.stringify(value) ?? '';
        const valid = isValidBody(text);
        const reply = await post('garbage', { text });
        if (valid) {
          expect([202, 409]).toContain(reply.status);
          if (reply.status === 202) created.add(prefixOf(text) as string);
        } else {
          expectProblem(reply);
          await expectNothingRecorded(prefixOf(text));
        }
      }),
      fcParams(80),
    );
  }, 60_000);

  it('refuses arbitrary and damaged text sent as application/json with a 4xx problem', async () => {
    const damaged = fc
      .tuple(
        validBody,
        fc.nat(),
        fc.oneof(fc.string({ unit: 'binary', maxLength: 3 }), fc.constant('')),
        fc.boolean(),
      )
      .map(([body, at, insert, cut]) => {
        const text = JSON.stringify({ ...body, prefix: `x${(body.prefix as string).slice(1)}` });
        const i = at % (text.length + 1);
        return cut ? text.slice(0, i) : text.slice(0, i) + insert + text.slice(i);
      });
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({
        unit: fc.constantFrom(...'{}[]":,0123456789.eE+-truefalsnul \\/'.split('')),
        maxLength: 60,
      }),
      fc.constantFrom('', ' ', '\n', 'null', '""', '[]', '{}', '{', '}', '\ufeff{}', 'NaN', '{"prefix":}'),
      damaged,
    );
    await fc.assert(
      fc.asyncProperty(text, async (raw) => {
        const valid = isValidBody(raw);
        const reply = await post('garbage', { text: raw });
        if (valid) {
          expect([202, 409]).toContain(reply.status);
          if (reply.status === 202) created.add(prefixOf(raw) as string);
        } else {
          expectProblem(reply, [400]);
          await expectNothingRecorded(prefixOf(raw));
        }
      }),
      fcParams(80),
    );
  }, 60_000);

  it('refuses a valid body under any content type other than JSON with 415 (and accepts every JSON media type)', async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 60,
    });
    const notJson = fc.oneof(
      printable.filter((t) => !/json/i.test(t)),
      fc.constantFrom(
        '',
        ' ',
        'text/plain',
        'text/json',
        'application/jsonp',
        'application/json-seq',
        'application/json garbage',
        'application/ json',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        '*/*',
        'json',
      ),
    );
    const json = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      '  application/json  ',
      'application/problem+json',
      'application/vnd.api+json;v=1',
    );
    await fc.assert(
      fc.asyncProperty(validBody, fc.oneof(notJson, json), async (body, contentType) => {
        const isJson =
          /^\s*application\/([\w.+-]+\+)?json\s*(;.*)?$/i.test(contentType) && !/json-seq/.test(contentType);
        const text = JSON.stringify(body);
        const reply = await post(isJson ? 'valid' : 'garbage', {
          path: isJson ? '/platforms?dryRun=true' : '/platforms',
          text,
          contentType,
        });
        if (isJson) {
          expect(reply.status, `${contentType}: ${reply.text.slice(0, 300)}`).toBe(200);
        } else {
          expectProblem(reply, [415]);
          await expectNothingRecorded(body.prefix);
        }
      }),
      fcParams(50),
    );
    // No content type at all.
    const reply = await post('garbage', {
      text: JSON.stringify({ prefix: 'noctype', models: ['phi3.5'] }),
      contentType: null,
    });
    expectProblem(reply, [415]);
    await expectNothingRecorded('noctype');
  }, 60_000);

  it('refuses bodies with invalid UTF-8 with 400 invalid-json, and random bytes with a 4xx, recording nothing', async () => {
    const invalidSequence = fc.constantFrom(
      [0xff],
      [0xfe],
      [0x80],
      [0xbf],
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xe2, 0x82],
      [0xed, 0xa0, 0x80],
      [0xf0, 0x80, 0x80, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    );
    await fc.assert(
      fc.asyncProperty(validBody, invalidSequence, fc.nat(), async (body, sequence, at) => {
        const encoded = new TextEncoder().encode(JSON.stringify(body));
        const i = at % (encoded.length + 1);
        const bytes = new Uint8Array([...encoded.subarray(0, i), ...sequence, ...encoded.subarray(i)]);
        expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
        const reply = await post('garbage', { bytes });
        expectProblem(reply, [400]);
        expect(reply.json.type).toBe('/problems/invalid-json');
        await expectNothingRecorded(body.prefix);
      }),
      fcParams(40),
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        expectProblem(await post('garbage', { bytes }), [400]);
      }),
      fcParams(30),
    );
  }, 60_000);

  it('refuses empty bodies with 400', async () => {
    for (const req of [
      { text: '' },
      { bytes: new Uint8Array(0) },
      { text: '', contentType: 'application/json; charset=utf-8' },
    ]) {
      const reply = await post('garbage', req);
      expectProblem(reply, [400]);
      expect(reply.json.type).toBe('/problems/invalid-json');
    }
  });

  it('refuses bodies over 64 KiB with 413 (even a valid one), accepts exactly 64 KiB, and records nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        validBody,
        fc.integer({ min: 1, max: 150_000 }),
        fc.constantFrom(' ', '\n', 'é'),
        async (body, extra, pad) => {
          const json = JSON.stringify(body);
          // Whitespace padding keeps the JSON valid; a multi-byte tag value makes bytes exceed characters.
          const text =
            pad === 'é'
              ? JSON.stringify({
                  ...body,
                  tags: { pad: 'é'.repeat(Math.ceil((LIMITS.maxBodyBytes + extra) / 2)) },
                })
              : json + pad.repeat(Math.max(0, LIMITS.maxBodyBytes - utf8(json)) + extra);
          expect(utf8(text)).toBeGreaterThan(LIMITS.maxBodyBytes);
          const reply = await post(pad === 'é' ? 'near-valid' : 'garbage', { text });
          expectProblem(reply, [413]);
          await expectNothingRecorded(body.prefix);
        },
      ),
      fcParams(20),
    );
    // A declared Content-Length over the limit is refused before the body is read.
    const lying = await post('garbage', {
      text: JSON.stringify({ prefix: 'lying', models: ['phi3.5'] }),
      headers: { 'content-length': String(LIMITS.maxBodyBytes + 1) },
    });
    expectProblem(lying, [413]);
    await expectNothingRecorded('lying');
    // The boundary: exactly 64 KiB is accepted.
    const exact = JSON.stringify({ prefix: 'exact64k', models: ['phi3.5'] });
    const reply = await post('valid', { text: exact + ' '.repeat(LIMITS.maxBodyBytes - utf8(exact)) });
    expect(reply.status, reply.text).toBe(202);
    created.add('exact64k');
  }, 60_000);

  it('refuses deeply nested JSON with a 4xx problem, wherever the nesting is', async () => {
    const placements = ['root', 'prefix', 'models', 'tag', 'extra'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20_000 }),
        fc.constantFrom('[', '{"a":'),
        fc.constantFrom(...placements),
        async (depth, open, placement) => {
          const nested = open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth);
          const text =
            placement === 'root'
              ? nested
              : placement === 'prefix'
                ? `{"prefix":${nested},"models":["phi3.5"]}`
                : placement === 'models'
                  ? `{"prefix":"deepnest","models":[${nested}]}`
                  : placement === 'tag'
                    ? `{"prefix":"deepnest","models":["phi3.5"],"tags":{"t":${nested}}}`
                    : `{"prefix":"deepnest","models":["phi3.5"],"extra":${nested}}`;
          const reply = await post('garbage', { text });
          expectProblem(reply, utf8(text) > LIMITS.maxBodyBytes ? [413] : [400]);
          await expectNothingRecorded('deepnest');
        },
      ),
      fcParams(30),
    );
  }, 60_000);

  it(`sent at least ${MIN_CASES} bodies in all, none answered with a 5xx, and only valid creates left a trace`, async () => {
    const total = sent.valid + sent['near-valid'] + sent.garbage;
    expect(serverErrors).toEqual([]);
    expect(
      app.host.logs.filter(
        (l) => l.functionName === 'createPlatform' && (l.level === 'error' || /Unhandled/.test(l.message)),
      ),
    ).toEqual([]);
    expect(total).toBeGreaterThanOrEqual(MIN_CASES);
    // Every family contributed.
    expect(sent.valid).toBeGreaterThan(100);
    expect(sent['near-valid']).toBeGreaterThan(100);
    expect(sent.garbage).toBeGreaterThan(100);
    const ids = (await registry.list({ includeDeleted: true })).map((r) => r.id);
    expect(ids.sort()).toEqual([...created].sort());
    // Instance ids are the platform id, or start with it and ':' (teardown, sub-flows).
    const platformsWithInstances = new Set([...app.instances.instances.keys()].map((i) => i.split(':')[0]));
    expect([...platformsWithInstances].sort()).toEqual([...created].sort());
  });
});
