/**
 * Property-based fuzzing of `PATCH /platforms/{id}` and the bodiless lifecycle routes through the real app:
 * whatever arrives, the answer is never a 5xx; every refusal is a problem+json; a 400 changes nothing; and
 * only a valid auto-stop change (the one change possible outside Ready) is recorded.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getServices } from '../../src/composition.js';
import { createRequestValidator } from '../../src/platform/schema.js';
import { DEFAULT_ALLOWED_LOCATIONS } from '../../src/platform/catalog.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const SEED = 20_261_127;

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
  // A platform that is not Ready (its provisioning is never run here): model and replica changes are 409s.
  expect(
    (await app.call('POST', '/platforms', { body: { prefix: 'fuzzp', models: ['phi3.5'] } })).status,
  ).toBe(202);
});
afterAll(() => app?.close());

const record = async () => (await getServices().registry.get('fuzzp'))!;
const oracle = createRequestValidator({
  allowedLocations: DEFAULT_ALLOWED_LOCATIONS,
  defaultIdleMinutes: 60,
});

/** Bodies near the contract: the right keys with values of every kind, plus unknown keys. */
const nearValid = fc.record(
  {
    models: fc.oneof(
      fc.array(
        fc.constantFrom('phi3.5', 'mistral:7b', 'llama3.1:8b', 'Bad Model', '', 'a/b:c', 'phi3.5:latest'),
        {
          maxLength: 6,
        },
      ),
      fc.anything(),
    ),
    webui: fc.oneof(
      fc.record({ replicas: fc.oneof(fc.integer({ min: -3, max: 12 }), fc.anything()) }),
      fc.anything(),
    ),
    autoStop: fc.oneof(
      fc.record({ idleMinutes: fc.oneof(fc.integer({ min: -10, max: 2000 }), fc.anything()) }),
      fc.anything(),
    ),
    gpu: fc.anything(),
    prefix: fc.string(),
  },
  { requiredKeys: [] },
);

/** Valid bodies: any subset of the three fields with values inside the contract. */
const validPatch = fc.record(
  {
    models: fc.uniqueArray(fc.constantFrom('phi3.5', 'mistral:7b', 'llama3.1:8b', 'qwen2.5:7b'), {
      minLength: 1,
      maxLength: 3,
    }),
    webui: fc.record({ replicas: fc.integer({ min: 1, max: 5 }) }),
    autoStop: fc.record({ idleMinutes: fc.oneof(fc.constant(0), fc.integer({ min: 5, max: 1440 })) }),
  },
  { requiredKeys: [] },
);

describe('PATCH /platforms/{id} under fuzzing', () => {
  it('never answers 5xx; refusals are problem+json; a 400 changes nothing; a 200 is a valid auto-stop change', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(validPatch, nearValid, fc.anything()), async (body) => {
        const before = await record();
        const reply = await app.call('PATCH', '/platforms/fuzzp', { body });
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        expect(reply.status).toBeLessThan(500);
        const after = await record();
        if (reply.status >= 400) {
          expect(reply.headers['content-type']).toBe('application/problem+json');
          expect(after.spec).toEqual(before.spec);
        }
        // The app's verdict agrees with the validator on which bodies are valid at all (judged on what was
        // sent: the JSON text of the body; no body at all is refused before validation).
        const text = JSON.stringify(body);
        if (text === undefined) expect(reply.status).toBe(415);
        else {
          const valid = oracle.validateUpdate(JSON.parse(text), before.spec).ok;
          expect(reply.status === 400, text).toBe(!valid);
        }
        if (reply.status === 200) expect(after.phase).toBe(before.phase);
        expect(after.phase).toBe('Pending');
      }),
      { seed: SEED, numRuns: 300 },
    );
    // The families were all reached: refusals, conflicts (not Ready) and accepted auto-stop changes.
    expect(statuses.get(400)).toBeGreaterThan(50);
    expect(statuses.get(409)).toBeGreaterThan(0);
    expect(statuses.get(200)).toBeGreaterThan(0);
  });

  it('answers every lifecycle route for unknown or malformed ids with a 4xx problem', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('fuzzp', 'nosuch', 'UPPER', 'a', '..', '%00')),
        fc.constantFrom(
          ['PATCH', ''],
          ['POST', '/wipe'],
          ['POST', '/stop'],
          ['POST', '/start'],
          ['POST', '/retry'],
          ['DELETE', ''],
        ),
        async (id, [method, suffix]) => {
          if (id === 'fuzzp' && method === 'DELETE') return; // the one platform stays for the other checks
          const path = `/platforms/${encodeURIComponent(id)}${suffix}`;
          const reply = await app.call(
            method,
            path,
            method === 'PATCH' ? { body: { webui: { replicas: 2 } } } : {},
          );
          expect(reply.status, `${method} ${path}`).toBeLessThan(500);
          if (reply.status >= 400 && reply.text)
            expect(reply.headers['content-type']).toBe('application/problem+json');
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
    expect((await record()).phase).toBe('Pending');
  });
});
