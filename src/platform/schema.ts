/**
 * The request contract. One JSON Schema (2020-12) per body is the single source of truth: the validator,
 * the defaults and the OpenAPI document are all built from it. What a schema cannot say (rules across
 * fields, or that need the model catalog) is checked by `checkSpecRules`, which reports in the same shape.
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { DEFAULT_GPU_VM_SIZE, T4_VM_SIZES, canonicalModel, knownModel } from './catalog.js';
import { PREFIX_PATTERN } from './naming.js';
import { GPU_IDLE_MINUTES, IDLE_MINUTES, LIMITS } from './policy.js';
import type { PlatformChange, PlatformSpec } from './types.js';

/** `[namespace/]name[:tag]` as Ollama accepts them, e.g. `llama3.1:8b`, `library/mistral`, `acme/custom:q4`. */
export const MODEL_PATTERN =
  '^(?:[a-z0-9][a-z0-9._-]{0,79}/)?[a-z0-9][a-z0-9._-]{0,79}(?::[A-Za-z0-9][A-Za-z0-9._-]{0,127})?$';
// Azure tag names may not contain < > % & \ ? / (Azure "Use tags to organize your Azure resources").
const TAG_NAME_PATTERN = '^[^<>%&\\\\?/\\p{Cc}]+$';
/** An address, `/`, a prefix length: what `checkSpecRules` then parses as a CIDR. */
const CIDR_SHAPE = '^[0-9A-Fa-f.:]+/[0-9]{1,3}$';
/** Tags the API sets on every resource itself; a request may not override them. */
export const RESERVED_TAGS = ['managed-by', 'platform-id'] as const;

export interface SchemaOptions {
  allowedLocations: readonly string[];
  defaultIdleMinutes: number;
}

export interface FieldError {
  /** JSON Pointer (RFC 6901) to the offending field of the request body; '' for the body itself. */
  pointer?: string;
  /** The offending query parameter, for errors outside the body. */
  parameter?: string;
  message: string;
}

export type CreatePlatformRequest = Omit<PlatformSpec, 'huggingFaceToken'> & {
  huggingFaceToken?: string;
  owners?: string[];
};

/** An Entra object id (GUID); owners are compared in lower case. */
const OBJECT_ID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const ownersSchema = {
  type: 'array',
  minItems: LIMITS.owners.min,
  maxItems: LIMITS.owners.max,
  uniqueItems: true,
  items: { type: 'string', pattern: OBJECT_ID_PATTERN },
  description:
    'Entra object ids (users, groups, service principals) that own the platform: they (and admins) see and operate it. Default: the caller.',
  examples: [['00000000-0000-4000-8000-00000000abcd']],
} as const;

export function createPlatformSchema(options: SchemaOptions) {
  return {
    $id: 'CreatePlatformRequest',
    title: 'CreatePlatformRequest',
    type: 'object',
    additionalProperties: false,
    required: ['prefix', 'models'],
    properties: {
      prefix: {
        type: 'string',
        pattern: PREFIX_PATTERN,
        description:
          'Platform id: 3–12 characters, a lowercase letter then lowercase letters or digits. Every Azure name is derived from it.',
        examples: ['team42'],
      },
      models: {
        type: 'array',
        minItems: LIMITS.models.min,
        maxItems: LIMITS.models.max,
        uniqueItems: true,
        items: { type: 'string', pattern: MODEL_PATTERN, maxLength: 200 },
        description:
          'Ollama model references (`[namespace/]name[:tag]`) to preload; the first is used for the smoke test.',
        examples: [['llama3.1:8b', 'phi3.5']],
      },
      location: {
        type: 'string',
        enum: [...options.allowedLocations],
        default: options.allowedLocations[0],
        description: 'Azure region; must offer the NCasT4_v3 series.',
      },
      gpu: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          vmSize: { type: 'string', enum: Object.keys(T4_VM_SIZES), default: DEFAULT_GPU_VM_SIZE },
          minNodes: {
            type: 'integer',
            minimum: 0,
            maximum: LIMITS.gpuNodes.max,
            default: LIMITS.gpuNodesDefault.min,
          },
          maxNodes: {
            type: 'integer',
            minimum: 1,
            maximum: LIMITS.gpuNodes.max,
            default: LIMITS.gpuNodesDefault.max,
          },
          spot: {
            type: 'boolean',
            default: true,
            description: 'Spot VMs (evicted under pressure, far cheaper).',
          },
        },
      },
      webui: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          replicas: {
            type: 'integer',
            minimum: LIMITS.webuiReplicas.min,
            maximum: LIMITS.webuiReplicas.max,
            default: LIMITS.webuiReplicas.default,
          },
          adminEmail: {
            type: 'string',
            format: 'email',
            maxLength: 254,
            description:
              'Email of the Open WebUI admin account created at provisioning (default admin@<prefix>.local); sign-up stays closed.',
          },
        },
      },
      autoStop: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          idleMinutes: {
            type: 'integer',
            anyOf: [{ const: IDLE_MINUTES.never }, { minimum: IDLE_MINUTES.min, maximum: IDLE_MINUTES.max }],
            default: options.defaultIdleMinutes,
            description: 'Stop the platform after this many idle minutes; 0 = never.',
          },
          gpuIdleMinutes: {
            type: 'integer',
            anyOf: [
              { const: GPU_IDLE_MINUTES.never },
              { minimum: GPU_IDLE_MINUTES.min, maximum: GPU_IDLE_MINUTES.max },
            ],
            default: GPU_IDLE_MINUTES.default,
            description:
              'Release the GPU (Ollama scaled to zero, its node released) after this many idle minutes while Open WebUI keeps running; 0 = never. A chat sent meanwhile fails until POST /platforms/{id}/wake.',
          },
          prewarm: {
            type: 'boolean',
            default: true,
            description:
              'Start the stopped platform shortly before the hours of the week it is usually used (learned from its own use over the last weeks); false = only on request.',
          },
        },
      },
      network: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          allowedSourceRanges: {
            type: 'array',
            maxItems: LIMITS.allowedSourceRanges.max,
            uniqueItems: true,
            default: [],
            // The shape here, the address and prefix length in `checkSpecRules` (a pattern for every IPv6
            // spelling would be unreadable).
            items: { type: 'string', maxLength: 43, pattern: CIDR_SHAPE },
            description:
              'Who may reach the platform: IPv4 or IPv6 CIDRs (e.g. 203.0.113.0/24, 2001:db8::/32); others get 403 at the HTTPS entry. Empty or absent: anyone.',
            examples: [['203.0.113.0/24']],
          },
        },
      },
      huggingFaceToken: {
        type: 'string',
        minLength: 8,
        maxLength: 512,
        pattern: '^\\S+$',
        writeOnly: true,
        description: 'Stored in Key Vault; never returned or logged.',
      },
      tags: {
        type: 'object',
        default: {},
        maxProperties: LIMITS.tags.maxPairs,
        propertyNames: {
          minLength: 1,
          maxLength: LIMITS.tags.maxNameLength,
          pattern: TAG_NAME_PATTERN,
          not: { enum: [...RESERVED_TAGS] },
        },
        additionalProperties: { type: 'string', maxLength: LIMITS.tags.maxValueLength },
        description: 'Added to every Azure resource of the platform (at most 15).',
      },
      owners: ownersSchema,
    },
  } as const;
}

/**
 * PATCH /platforms/{id}: the fields a running platform may change, each validated exactly as on create
 * (the same sub-schemas, without their defaults: an absent field keeps its current value). `models`
 * replaces the whole list (JSON merge patch, RFC 7396, replaces arrays).
 */
export function updatePlatformSchema(options: SchemaOptions) {
  const create = createPlatformSchema(options).properties;
  const { default: _replicasDefault, ...replicas } = create.webui.properties.replicas;
  const { default: _idleDefault, ...idleMinutes } = create.autoStop.properties.idleMinutes;
  const { default: _prewarmDefault, ...prewarm } = create.autoStop.properties.prewarm;
  const { default: _gpuIdleDefault, ...gpuIdleMinutes } = create.autoStop.properties.gpuIdleMinutes;
  const { default: _rangesDefault, ...allowedSourceRanges } = create.network.properties.allowedSourceRanges;
  return {
    $id: 'UpdatePlatformRequest',
    title: 'UpdatePlatformRequest',
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      models: {
        ...create.models,
        description:
          'The full new list: models not in it are deleted from Ollama, new ones are pulled; the first is the default.',
      },
      webui: {
        type: 'object',
        additionalProperties: false,
        required: ['replicas'],
        properties: { replicas },
      },
      autoStop: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { idleMinutes, gpuIdleMinutes, prewarm },
      },
      owners: {
        ...ownersSchema,
        description: 'The full new list of owners (Operator owners or admins); at least one.',
      },
      network: {
        type: 'object',
        additionalProperties: false,
        required: ['allowedSourceRanges'],
        properties: { allowedSourceRanges },
      },
    },
  } as const;
}

export type UpdatePlatformRequest = {
  models?: string[];
  webui?: { replicas: number };
  autoStop?: { idleMinutes?: number; gpuIdleMinutes?: number; prewarm?: boolean };
  owners?: string[];
  network?: { allowedSourceRanges: string[] };
};

/** A valid PATCH: the platform's new spec and what changed that needs the cluster. */
export interface ValidatedUpdate {
  spec: PlatformSpec;
  change: PlatformChange;
  /** The new owners (lower case), when the PATCH names them; they are not part of the spec. */
  owners?: string[];
}

// ajv-formats is CommonJS: under Node's ESM loader its default export is the plugin function itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export interface RequestValidator {
  readonly schema: ReturnType<typeof createPlatformSchema>;
  /** Validates a parsed JSON body. On success returns the request with every default applied (a new object). */
  validateCreate(
    body: unknown,
  ): { ok: true; value: CreatePlatformRequest } | { ok: false; errors: FieldError[] };
  /** Validates a PATCH body against the platform's current spec. */
  validateUpdate(
    body: unknown,
    current: PlatformSpec,
  ): { ok: true; value: ValidatedUpdate } | { ok: false; errors: FieldError[] };
}

export function createRequestValidator(options: SchemaOptions): RequestValidator {
  const schema = createPlatformSchema(options);
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true, unicodeRegExp: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const validatePatch = ajv.compile(updatePlatformSchema(options));
  return {
    schema,
    validateUpdate(body, current) {
      if (!validatePatch(body)) return { ok: false, errors: toFieldErrors(validatePatch.errors ?? []) };
      const patch = body as UpdatePlatformRequest;
      const spec: PlatformSpec = {
        ...current,
        models: patch.models ?? current.models,
        webui: { ...current.webui, ...(patch.webui ?? {}) },
        autoStop: { ...current.autoStop, ...(patch.autoStop ?? {}) },
        ...(patch.network ? { network: { allowedSourceRanges: patch.network.allowedSourceRanges } } : {}),
      };
      // The rules concern models and ranges only here (the rest of the spec was valid and is unchanged).
      const errors = checkSpecRules({ ...spec, huggingFaceToken: undefined }).filter(
        (e) => e.pointer?.startsWith('/models/') || e.pointer?.startsWith('/network/'),
      );
      return errors.length > 0
        ? { ok: false, errors }
        : {
            ok: true,
            value: {
              spec,
              change: diff(current, spec),
              ...(patch.owners ? { owners: normaliseOwners(patch.owners) } : {}),
            },
          };
    },
    validateCreate(body) {
      // useDefaults mutates: validate a copy so the caller's object is never changed.
      const copy = structuredClone(body);
      if (!validate(copy)) return { ok: false, errors: toFieldErrors(validate.errors ?? []) };
      const value = copy as CreatePlatformRequest;
      if (value.owners) value.owners = normaliseOwners(value.owners);
      const errors = checkSpecRules(value);
      return errors.length > 0 ? { ok: false, errors } : { ok: true, value };
    },
  };
}

/** Object ids compare in lower case; two spellings of one id count once. */
const normaliseOwners = (owners: string[]) => [...new Set(owners.map((o) => o.toLowerCase()))];

/** Models compare by their canonical Ollama name: `llama3.1` and `llama3.1:latest` are one model. */
function diff(before: PlatformSpec, after: PlatformSpec): PlatformChange {
  const had = new Set(before.models.map(canonicalModel));
  const has = new Set(after.models.map(canonicalModel));
  return {
    addedModels: after.models.filter((m) => !had.has(canonicalModel(m))),
    removedModels: before.models.filter((m) => !has.has(canonicalModel(m))),
    ...(before.webui.replicas !== after.webui.replicas
      ? { replicas: { from: before.webui.replicas, to: after.webui.replicas } }
      : {}),
    ...(sameRanges(before, after) ? {} : { allowedSourceRanges: ranges(after) }),
  };
}

const ranges = (spec: PlatformSpec) => spec.network?.allowedSourceRanges ?? [];
/** The same CIDRs in another order admit the same clients: no change (the Caddyfile lists them as given). */
const sameRanges = (a: PlatformSpec, b: PlatformSpec) =>
  JSON.stringify([...ranges(a)].sort()) === JSON.stringify([...ranges(b)].sort());

/** Rules the schema cannot express. Runs only on schema-valid input. */
export function checkSpecRules(request: CreatePlatformRequest): FieldError[] {
  const errors: FieldError[] = [];
  if (request.gpu.minNodes > request.gpu.maxNodes) {
    errors.push({ pointer: '/gpu/minNodes', message: `must be ≤ gpu.maxNodes (${request.gpu.maxNodes})` });
  }
  // Azure tag names are case-insensitive: `Managed-By` would collide with our own `managed-by`.
  const tagNames = new Map<string, string>();
  for (const name of Object.keys(request.tags)) {
    const lower = name.toLowerCase();
    const pointer = `/tags/${escapePointer(name)}`;
    if ((RESERVED_TAGS as readonly string[]).includes(lower))
      errors.push({ pointer, message: `is reserved for the API (tag names are case-insensitive)` });
    else if (tagNames.has(lower))
      errors.push({
        pointer,
        message: `differs from tag '${tagNames.get(lower)}' only in case; Azure tag names are case-insensitive`,
      });
    tagNames.set(lower, name);
  }
  (request.network?.allowedSourceRanges ?? []).forEach((range, i) => {
    if (!isCidr(range))
      errors.push({
        pointer: `/network/allowedSourceRanges/${i}`,
        message: CIDR_MESSAGE,
      });
  });
  const seen = new Map<string, number>();
  request.models.forEach((model, i) => {
    const canonical = canonicalModel(model);
    const first = seen.get(canonical);
    if (first !== undefined) {
      errors.push({
        pointer: `/models/${i}`,
        message: `names the same model as /models/${first} (${canonical})`,
      });
    } else {
      seen.set(canonical, i);
    }
    const known = knownModel(model);
    const gpuMemory = T4_VM_SIZES[request.gpu.vmSize].gpuMemoryGiB;
    if (known && known.gpuMemoryGiB > gpuMemory) {
      errors.push({
        pointer: `/models/${i}`,
        message: `${model} needs about ${known.gpuMemoryGiB} GiB of GPU memory; one T4 of ${request.gpu.vmSize} has ${gpuMemory} GiB`,
      });
    }
  });
  return errors;
}

/** Turns ajv's errors into one `{ pointer, message }` per bad field, pointing at the field itself. */
export function toFieldErrors(errors: readonly ErrorObject[]): FieldError[] {
  const out = new Map<string, FieldError>();
  for (const e of errors) {
    // anyOf/if wrappers repeat what their branches already said; the branches are more precise.
    if (e.keyword === 'anyOf' && errors.some((o) => o !== e && o.instancePath === e.instancePath)) continue;
    let pointer = e.instancePath;
    let message = e.message ?? 'is invalid';
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required') {
      pointer = `${pointer}/${escapePointer(String(params.missingProperty))}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      pointer = `${pointer}/${escapePointer(String(params.additionalProperty))}`;
      message = 'is not a known property';
    } else if (e.keyword === 'propertyNames') {
      pointer = `${pointer}/${escapePointer(String(params.propertyName))}`;
      message =
        'is not an allowed tag name (1–128 characters, none of < > % & \\ ? /, not managed-by or platform-id)';
    } else if (e.keyword === 'enum') {
      const allowed = (params.allowedValues as unknown[]).map(String);
      message = allowed.length <= 20 ? `must be one of: ${allowed.join(', ')}` : 'is not an allowed value';
    } else if (e.keyword === 'pattern') {
      message = describePattern(pointer) ?? message;
    } else if (
      pointer === '/autoStop/gpuIdleMinutes' &&
      ['const', 'minimum', 'maximum'].includes(e.keyword)
    ) {
      message = `must be 0 (never) or an integer from ${GPU_IDLE_MINUTES.min} to ${GPU_IDLE_MINUTES.max}`;
    } else if (e.keyword === 'const' || (e.keyword === 'minimum' && pointer === '/autoStop/idleMinutes')) {
      message = `must be 0 (never) or an integer from ${IDLE_MINUTES.min} to ${IDLE_MINUTES.max}`;
    }
    // Keep one message per field: the first is the most specific in ajv's order.
    if (e.keyword === 'propertyNames' && out.has(pointer)) continue;
    if (!out.has(pointer)) out.set(pointer, { pointer, message });
  }
  // The `propertyNames` keyword also reports its sub-errors at the object's own path; drop that echo.
  return [...out.values()].filter(
    (err, _, all) => !(err.pointer === '/tags' && all.some((o) => o.pointer?.startsWith('/tags/'))),
  );
}

function describePattern(pointer: string): string | undefined {
  if (pointer === '/prefix')
    return 'must be 3–12 characters: a lowercase letter, then lowercase letters or digits';
  if (pointer.startsWith('/models/'))
    return 'must be an Ollama model reference such as llama3.1:8b or namespace/name:tag';
  if (pointer === '/huggingFaceToken') return 'must not contain whitespace';
  if (pointer.startsWith('/network/allowedSourceRanges/')) return CIDR_MESSAGE;
  return undefined;
}

const CIDR_MESSAGE =
  'must be an IPv4 or IPv6 CIDR: an address, then / and a prefix length (0–32 for IPv4, 0–128 for IPv6)';

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** `a.b.c.d/n` (n ≤ 32) or an IPv6 address in any RFC 4291 spelling `/n` (n ≤ 128); no zone, no leading zero in n. */
export function isCidr(range: string): boolean {
  const m = /^([^/]+)\/(0|[1-9]\d{0,2})$/.exec(range);
  if (!m) return false;
  const address = m[1]!;
  const length = m[2]!;
  if (IPV4.test(address)) return Number(length) <= 32;
  return Number(length) <= 128 && isIpv6(address);
}

function isIpv6(address: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(address) || address.split('::').length > 2) return false;
  // An embedded IPv4 address stands for the last two groups.
  let groups = address;
  const lastColon = address.lastIndexOf(':');
  const tail = address.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!IPV4.test(tail)) return false;
    groups = `${address.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = groups.split('::') as [string, string | undefined];
  const parts = (s: string) => (s === '' ? [] : s.split(':'));
  const all = [...parts(head), ...parts(rest ?? '')];
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return rest === undefined ? all.length === 8 : all.length <= 7;
}

const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');
