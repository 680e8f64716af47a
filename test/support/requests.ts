/**
 * Request generators for fuzzing the API (fast-check arbitraries), shared by the fuzz test
 * (test/integration/fuzz.test.ts) and the soak benchmark (bench/soak.ts): valid `POST /platforms` bodies
 * drawn from the schema's rules, near-valid ones with exactly one field made wrong, and damaged text,
 * content types, byte sequences, sizes and nesting. No test-framework imports: the benchmarks compile it.
 */
import fc from 'fast-check';
import {
  canonicalModel,
  DEFAULT_ALLOWED_LOCATIONS,
  knownModel,
  T4_VM_SIZES,
} from '../../src/platform/catalog.js';
import { PREFIX_PATTERN } from '../../src/platform/naming.js';
import { LIMITS } from '../../src/platform/policy.js';
import { createRequestValidator, MODEL_PATTERN } from '../../src/platform/schema.js';

/** Independent oracle used only to check the generators themselves (never the answer under test). */
const oracle = createRequestValidator({
  allowedLocations: DEFAULT_ALLOWED_LOCATIONS,
  defaultIdleMinutes: 60,
});
/** Whether a text is a body the API must accept (the generators' own check, not the app's). */
export const isValidBody = (text: string): boolean => {
  try {
    return oracle.validateCreate(JSON.parse(text)).ok;
  } catch {
    return false;
  }
};

export const PREFIX_RE = new RegExp(PREFIX_PATTERN);
const MODEL_RE = new RegExp(MODEL_PATTERN, 'u');
// The Azure tag-name rule the schema enforces, restated: none of < > % & \ ? / and no control characters.
const TAG_NAME_RE = /^[^<>%&\\?/\p{Cc}]+$/u;
const RESERVED_TAGS = ['managed-by', 'platform-id'];
const codePoints = (s: string) => [...s].length;
const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');
export const JSON_POINTER = /^(?:\/(?:[^~]|~[01])*)*$/;
export const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

// ---------------------------------------------------------------------------------------------------------
// Valid bodies, generated from the schema's rules.

export type Body = Record<string, unknown>;

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

export const validBody: fc.Arbitrary<Body> = fc.record(
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
    owners: fc.uniqueArray(fc.uuid(), { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: ['prefix', 'models'] },
);

// ---------------------------------------------------------------------------------------------------------
// Near-valid bodies: one field made wrong. `expect` is the pointer that must be among the errors (the
// mutated field itself; an error on one of its children also names it).

export type Mutation =
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
const KNOWN_TOP = [
  'prefix',
  'models',
  'location',
  'gpu',
  'webui',
  'autoStop',
  'huggingFaceToken',
  'tags',
  'owners',
];
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

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
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
  // owners: Entra object ids only, 1–20 of them
  set(['owners'], nonArray),
  set(['owners'], fc.constant([])),
  set(['owners'], fc.array(fc.oneof(nonString, unicodeString), { minLength: 1, maxLength: 3 })),
  set(
    ['owners'],
    fc.constant(
      Array.from({ length: 21 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
    ),
  ),
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
export function mutate(base: Body, m: Mutation): { body: Body; pointer: string } {
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
// Whole request bodies and headers that are not a valid request.

/** Any JavaScript value, serialised as JSON (most are not a valid body; check with isValidBody). */
export const anyValue = fc.oneof(fc.anything(), fc.jsonValue(), fc.object());

/** A valid body (prefix starting with x) cut short or with a few characters inserted. */
export const damagedBody = fc
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

/** Arbitrary text, JSON-ish character soup, edge-case texts and damaged bodies. */
export const garbageText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({
    unit: fc.constantFrom(...'{}[]":,0123456789.eE+-truefalsnul \\/'.split('')),
    maxLength: 60,
  }),
  fc.constantFrom('', ' ', '\n', 'null', '""', '[]', '{}', '{', '}', '\ufeff{}', 'NaN', '{"prefix":}'),
  damagedBody,
);

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});
/** Content types that are not JSON. */
export const notJsonContentType = fc.oneof(
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
/** JSON media types the API accepts. */
export const jsonContentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  '  application/json  ',
  'application/problem+json',
  'application/vnd.api+json;v=1',
);
/** Whether the API must read a body under this content type as JSON. */
export const isJsonContentType = (contentType: string) =>
  /^\s*application\/([\w.+-]+\+)?json\s*(;.*)?$/i.test(contentType) && !/json-seq/.test(contentType);

/** Byte sequences that are not UTF-8. */
export const invalidUtf8Sequence = fc.constantFrom(
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

/** The body's JSON with `sequence` inserted at byte `at` (modulo its length). */
export function withBytes(body: Body, sequence: readonly number[], at: number): Uint8Array {
  const encoded = new TextEncoder().encode(JSON.stringify(body));
  const i = at % (encoded.length + 1);
  return new Uint8Array([...encoded.subarray(0, i), ...sequence, ...encoded.subarray(i)]);
}

/** Bytes over the size limit, and the padding that gets there: whitespace (JSON stays valid) or a multi-byte tag value. */
export const oversizeExtra = fc.integer({ min: 1, max: 150_000 });
export const oversizePad = fc.constantFrom(' ', '\n', 'é');

/** The body made `extra` bytes larger than the limit with `pad`. */
export function oversize(body: Body, extra: number, pad: string): string {
  const json = JSON.stringify(body);
  // Whitespace padding keeps the JSON valid; a multi-byte tag value makes bytes exceed characters.
  return pad === 'é'
    ? JSON.stringify({
        ...body,
        tags: { pad: 'é'.repeat(Math.ceil((LIMITS.maxBodyBytes + extra) / 2)) },
      })
    : json + pad.repeat(Math.max(0, LIMITS.maxBodyBytes - utf8(json)) + extra);
}

export const NESTING_PLACEMENTS = ['root', 'prefix', 'models', 'tag', 'extra'] as const;
/** Depth, opener and where deeply nested JSON goes. */
export const nestingDepth = fc.integer({ min: 1, max: 20_000 });
export const nestingOpen = fc.constantFrom('[', '{"a":');
export const nestingPlacement = fc.constantFrom(...NESTING_PLACEMENTS);

/** A body with JSON nested `depth` levels deep at `placement` (prefix deepnest where there is one). */
export function nested(depth: number, open: string, placement: (typeof NESTING_PLACEMENTS)[number]): string {
  const value = open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth);
  return placement === 'root'
    ? value
    : placement === 'prefix'
      ? `{"prefix":${value},"models":["phi3.5"]}`
      : placement === 'models'
        ? `{"prefix":"deepnest","models":[${value}]}`
        : placement === 'tag'
          ? `{"prefix":"deepnest","models":["phi3.5"],"tags":{"t":${value}}}`
          : `{"prefix":"deepnest","models":["phi3.5"],"extra":${value}}`;
}
