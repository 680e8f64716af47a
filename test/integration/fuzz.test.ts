/**
 * Property-based fuzzing of `POST /platforms` through the real app (host emulation, Azurite, simulated
 * durable runtime). Whatever arrives, the API answers with a 2xx for a valid body or a 4xx problem+json
 * for anything else, never a 5xx and never an exception, and an invalid request leaves no trace: no
 * registry record and no orchestration. Runs use a fixed seed; a failure prints the seed and path that
 * reproduce it (fast-check's report), plus the shrunk counterexample. The generators are shared with the
 * soak benchmark (test/support/requests.ts).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ALLOWED_LOCATIONS } from '../../src/platform/catalog.js';
import { LIMITS } from '../../src/platform/policy.js';
import type { Registry } from '../../src/registry/registry.js';
import { startTestApp, type Reply, type TestApp } from '../support/harness.js';
import {
  anyValue,
  garbageText,
  invalidUtf8Sequence,
  isJsonContentType,
  isValidBody,
  JSON_POINTER,
  jsonContentType,
  mutate,
  mutation,
  nested,
  nestingDepth,
  nestingOpen,
  nestingPlacement,
  notJsonContentType,
  oversize,
  oversizeExtra,
  oversizePad,
  PREFIX_RE,
  utf8,
  validBody,
  withBytes,
} from '../support/requests.js';

const SEED = 20_240_601;
const MIN_CASES = 500;

let app: TestApp;
let registry: Registry;
beforeAll(async () => {
  // Every valid body must be accepted here, the largest too (64-vCPU GPU nodes × 10): quota admission is
  // tested in admission.test.ts, so this subscription's quotas hold any number of platforms. Hundreds of
  // creates arrive at one simulated instant: ARM's read budget would refuse their admission reads (503,
  // proved in throttling.test.ts and bench:fleet), so this subscription has no request budgets.
  const roomy = 1_000_000;
  app = await startTestApp({
    arm: {
      budgets: false,
      quotaLimits: {
        cores: roomy,
        lowPriorityCores: roomy,
        standardDSv5Family: roomy,
        standardNCASv3_T4Family: roomy,
      },
    },
  });
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

interface Request {
  path?: string;
  /** A JSON text (or any text) sent as the body; '' sends no body. */
  text?: string;
  bytes?: Uint8Array;
  /** Overrides the content type; null sends none. */
  contentType?: string | null;
  headers?: Record<string, string>;
  /** Sends no bearer token (only what `headers` carries); otherwise the sandbox's admin token. */
  anonymous?: boolean;
}

/** One POST /platforms. Text goes through the harness; raw bytes straight to the host emulation. */
async function post(family: Family, req: Request): Promise<Reply> {
  const path = req.path ?? '/platforms';
  sent[family]++;
  let reply: Reply;
  if (req.bytes !== undefined || req.contentType === null) {
    const headers: Record<string, string> = {
      'x-functions-key': app.functionKey,
      ...(req.anonymous ? {} : { authorization: `Bearer ${app.adminToken}` }),
      ...req.headers,
    };
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
      ...(req.anonymous ? { token: null } : {}),
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
      fc.asyncProperty(anyValue, async (value) => {
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
    await fc.assert(
      fc.asyncProperty(garbageText, async (raw) => {
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
    await fc.assert(
      fc.asyncProperty(
        validBody,
        fc.oneof(notJsonContentType, jsonContentType),
        async (body, contentType) => {
          const isJson = isJsonContentType(contentType);
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
        },
      ),
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
    await fc.assert(
      fc.asyncProperty(validBody, invalidUtf8Sequence, fc.nat(), async (body, sequence, at) => {
        const bytes = withBytes(body, sequence, at);
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

  it('refuses a valid body from no caller with 401, whatever authorization and principal headers a client sends', async () => {
    const text = fc.string({ unit: 'grapheme-ascii', maxLength: 300 });
    await fc.assert(
      fc.asyncProperty(
        validBody,
        fc.oneof(
          text,
          text.map((t) => `Bearer ${t}`),
          fc.constant(`Bearer ${app.adminToken}x`),
        ),
        fc.oneof(
          text,
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64')),
        ),
        async (body, authorization, principal) => {
          const reply = await post('garbage', {
            text: JSON.stringify(body),
            anonymous: true,
            headers: { authorization, 'x-ms-client-principal': principal },
          });
          expectProblem(reply, [401]);
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

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
      fc.asyncProperty(validBody, oversizeExtra, oversizePad, async (body, extra, pad) => {
        const text = oversize(body, extra, pad);
        expect(utf8(text)).toBeGreaterThan(LIMITS.maxBodyBytes);
        const reply = await post(pad === 'é' ? 'near-valid' : 'garbage', { text });
        expectProblem(reply, [413]);
        await expectNothingRecorded(body.prefix);
      }),
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
    await fc.assert(
      fc.asyncProperty(nestingDepth, nestingOpen, nestingPlacement, async (depth, open, placement) => {
        const text = nested(depth, open, placement);
        const reply = await post('garbage', { text });
        expectProblem(reply, utf8(text) > LIMITS.maxBodyBytes ? [413] : [400]);
        await expectNothingRecorded('deepnest');
      }),
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
