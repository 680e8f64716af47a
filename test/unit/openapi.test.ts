/**
 * The OpenAPI document: a valid OpenAPI 3.1 document (checked by an independent validator), listing every
 * route and status the API answers with, describing the request body with the very schema the validator
 * uses, and naming every problem type the code can emit.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/http/openapi.js';
import { PROBLEM_TYPES, problemTypeUri, type ProblemType } from '../../src/http/problem.js';
import { DEFAULT_ALLOWED_LOCATIONS } from '../../src/platform/catalog.js';
import { createPlatformSchema, updatePlatformSchema } from '../../src/platform/schema.js';
import { VERSION } from '../../src/version.js';

const options = { allowedLocations: DEFAULT_ALLOWED_LOCATIONS, defaultIdleMinutes: 60 };
const build = () => buildOpenApi({ ...options, version: VERSION });
type Doc = ReturnType<typeof build>;

/** The validator resolves and may rewrite $refs in place: always hand it a copy. */
async function check(doc: unknown) {
  return validate(structuredClone(doc) as Parameters<typeof validate>[0]);
}

/** Every operation of the document as [path, method, operation]. */
function operations(doc: Doc): Array<[string, string, { responses: Record<string, unknown> }]> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item as Record<string, { responses: Record<string, unknown> }>).map(
      ([method, op]) =>
        [path, method.toUpperCase(), op] as [string, string, { responses: Record<string, unknown> }],
    ),
  );
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = build();
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const result = await check(doc);
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(result.specification).toBe('OpenAPI');
    expect(result.warnings).toEqual([]);
  });

  it('is really checked: a copy with a response lacking its description, or a dangling $ref, is refused', async () => {
    const noDescription = structuredClone(build()) as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>>;
    };
    delete noDescription.paths['/health']!.get!.responses['200']!.description;
    const first = await check(noDescription);
    expect(first.valid).toBe(false);
    if (!first.valid) expect(compileErrors(first)).toMatch(/description/);

    const dangling = structuredClone(build()) as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
    };
    dangling.paths['/platforms']!.get!.responses['200']!.content = {
      'application/json': { schema: { $ref: '#/components/schemas/NoSuchSchema' } },
    };
    const second = await check(dangling);
    expect(second.valid).toBe(false);
    if (!second.valid) expect(compileErrors(second)).toMatch(/NoSuchSchema/);
  });

  it('lists every route with every status it answers', () => {
    const expected: Record<string, number[]> = {
      'POST /platforms': [200, 202, 400, 409, 413, 415, 401, 403],
      'GET /platforms': [200, 401, 403],
      'GET /platforms/{id}': [200, 404, 401, 403],
      'GET /platforms/{id}/status': [200, 404, 401, 403],
      'PATCH /platforms/{id}': [200, 202, 400, 404, 409, 413, 415, 401, 403],
      'DELETE /platforms/{id}': [202, 404, 409, 401, 403],
      'POST /platforms/{id}/wipe': [202, 404, 409, 401, 403],
      'POST /platforms/{id}/stop': [202, 404, 409, 401, 403],
      'POST /platforms/{id}/start': [202, 404, 409, 401, 403],
      'POST /platforms/{id}/wake': [202, 404, 409, 401, 403],
      'POST /platforms/{id}/retry': [202, 404, 409, 401, 403],
      'GET /health': [200],
      'GET /openapi.json': [200],
      'GET /console': [200],
      'GET /console/{path}': [200, 404],
    };
    const documented = Object.fromEntries(
      operations(build()).map(([path, method, op]) => [`${method} ${path}`, Object.keys(op.responses)]),
    );
    expect(Object.keys(documented).sort()).toEqual(Object.keys(expected).sort());
    for (const [operation, statuses] of Object.entries(expected)) {
      expect(documented[operation], operation).toEqual(expect.arrayContaining(statuses.map(String)));
    }
  });

  it('describes the PATCH body with exactly the schema the request validator uses', () => {
    const doc = build();
    const { $id: _id, ...schema } = updatePlatformSchema(options);
    expect(doc.components.schemas.UpdatePlatformRequest).toEqual(schema);
    expect(doc.paths['/platforms/{id}'].patch.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/UpdatePlatformRequest',
    });
  });

  it('describes the create body with exactly the schema the request validator uses', () => {
    const doc = build();
    const { $id: _id, ...schema } = createPlatformSchema(options);
    expect(doc.components.schemas.CreatePlatformRequest).toEqual(schema);
    expect(doc.paths['/platforms'].post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CreatePlatformRequest',
    });
    // The document carries what the validator is configured with, not the defaults of the module.
    const narrowed = buildOpenApi({
      allowedLocations: ['westeurope'],
      defaultIdleMinutes: 0,
      version: VERSION,
    });
    expect(narrowed.components.schemas.CreatePlatformRequest).toMatchObject({
      properties: {
        location: { enum: ['westeurope'], default: 'westeurope' },
        autoStop: { properties: { idleMinutes: { default: 0 } } },
      },
    });
  });

  it('names every problem type the code can emit in the Problem schema', () => {
    const problemSchema = build().components.schemas.Problem;
    const types = Object.keys(PROBLEM_TYPES).map((t) => problemTypeUri(t as ProblemType));
    expect(types.length).toBeGreaterThan(0);
    expect(problemSchema.properties.type.enum).toEqual(expect.arrayContaining(types));
    expect(problemSchema.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail']));
  });

  it('answers every problem status of an operation with the problem+json media type', () => {
    for (const [path, method, op] of operations(build())) {
      for (const [status, response] of Object.entries(op.responses)) {
        const content = (response as { content?: Record<string, unknown> }).content;
        if (Number(status) >= 400 && content) {
          expect(Object.keys(content), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        }
      }
    }
  });

  it('asks for the function key and an Entra caller together on every platform route, and for neither on the meta routes', () => {
    const doc = build();
    expect(doc.components.securitySchemes.entraId).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, method, op] of operations(doc)) {
      const security = (op as { security?: Record<string, unknown>[] }).security;
      if (!path.startsWith('/platforms')) {
        expect(security, `${method} ${path}`).toBeUndefined();
        continue;
      }
      expect(security, `${method} ${path}`).toEqual([
        { functionKey: [], entraId: [] },
        { functionKeyQuery: [], entraId: [] },
      ]);
    }
  });

  it("reports the package's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    expect(build().info.version).toBe(pkg.version);
  });
});
