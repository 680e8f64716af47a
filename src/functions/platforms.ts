/**
 * HTTP triggers of the platform API. Each one parses the request, calls the platform service and maps
 * the result to HTTP; validation and rules live in the service and the domain.
 *
 * Two gates: the function key (authLevel 'function') admits a client application to the app at all, and
 * App Service Authentication names the caller (src/http/principal.ts), whose roles and ownership the
 * service checks. No caller: 401 before anything is read.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getServices } from '../composition.js';
import { readJsonBody } from '../http/body.js';
import { readCaller } from '../http/principal.js';
import { problem } from '../http/problem.js';
import { handle, json } from '../http/respond.js';
import type { Caller } from '../platform/access.js';
import { PREFIX_PATTERN } from '../platform/naming.js';
import { orchestrationsFromDurableClient, type Orchestrations } from '../services/orchestrations.js';
import type { Accepted } from '../services/platforms.js';

const durableClient = df.input.durableClient();
const idPattern = new RegExp(PREFIX_PATTERN);
const orchestrations = (context: InvocationContext) => orchestrationsFromDurableClient(df.getClient(context));

/** An id that could never have been created is simply unknown: no registry lookup with arbitrary text. */
function platformId(request: HttpRequest): string | undefined {
  const id = request.params.id ?? '';
  return idPattern.test(id) ? id : undefined;
}
const unknownId = (request: HttpRequest) =>
  problem('not-found', `No platform with id '${(request.params.id ?? '').slice(0, 64)}'.`);

/** A handler that runs only for an authenticated caller; otherwise 401 problem+json with a Bearer challenge. */
function asCaller(
  fn: (request: HttpRequest, context: InvocationContext, caller: Caller) => Promise<HttpResponseInit>,
) {
  return handle(async (request, context) => {
    const reading = readCaller(request.headers, getServices().config.authEnabled);
    if (!reading.ok)
      return problem('unauthorized', reading.detail, { headers: { 'www-authenticate': 'Bearer' } });
    return fn(request, context, reading.caller);
  });
}

app.http('createPlatform', {
  route: 'platforms',
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [durableClient],
  handler: asCaller(async (request, context, caller) => {
    const dryRun = request.query.get('dryRun');
    if (dryRun !== null && dryRun !== 'true' && dryRun !== 'false') {
      return problem('validation', 'dryRun must be true or false.', {
        errors: [{ parameter: 'dryRun', message: 'must be true or false' }],
      });
    }
    const body = await readJsonBody(request);
    if (!body.ok) return body.response;
    const result = await getServices().platforms.create(caller, body.value, orchestrations(context), {
      dryRun: dryRun === 'true',
    });
    if (!('operation' in result)) return json(200, { dryRun: true, plan: result });
    return json(202, result, { location: result.links.status });
  }),
});

app.http('listPlatforms', {
  route: 'platforms',
  methods: ['GET'],
  authLevel: 'function',
  handler: asCaller(async (request, _context, caller) => {
    const includeDeleted = request.query.get('includeDeleted') === 'true';
    return json(200, await getServices().platforms.list(caller, { includeDeleted }));
  }),
});

app.http('getPlatform', {
  route: 'platforms/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: asCaller(async (request, _context, caller) => {
    const id = platformId(request);
    return id ? json(200, await getServices().platforms.get(caller, id)) : unknownId(request);
  }),
});

app.http('getPlatformStatus', {
  route: 'platforms/{id}/status',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [durableClient],
  handler: asCaller(async (request, context, caller) => {
    const id = platformId(request);
    return id
      ? json(200, await getServices().platforms.status(caller, id, orchestrations(context)))
      : unknownId(request);
  }),
});

app.http('updatePlatformHttp', {
  route: 'platforms/{id}',
  methods: ['PATCH'],
  authLevel: 'function',
  extraInputs: [durableClient],
  handler: asCaller(async (request, context, caller) => {
    const id = platformId(request);
    if (!id) return unknownId(request);
    // application/json or application/merge-patch+json (RFC 7396): both are accepted as +json bodies.
    const body = await readJsonBody(request);
    if (!body.ok) return body.response;
    const result = await getServices().platforms.update(caller, id, body.value, orchestrations(context));
    return result.status === 202
      ? json(202, result.body, { location: result.body.links.status })
      : json(200, result.body);
  }),
});

/** Routes that start a flow for one platform and answer 202 with where to follow it. */
function acceptedRoute(
  name: string,
  route: string,
  method: 'POST' | 'DELETE',
  act: (caller: Caller, id: string, orchestrations: Orchestrations) => Promise<Accepted>,
) {
  app.http(name, {
    route,
    methods: [method],
    authLevel: 'function',
    extraInputs: [durableClient],
    handler: asCaller(async (request, context, caller) => {
      const id = platformId(request);
      if (!id) return unknownId(request);
      const result = await act(caller, id, orchestrations(context));
      return json(202, result, { location: result.links.status });
    }),
  });
}

const platforms = () => getServices().platforms;
acceptedRoute('deletePlatformHttp', 'platforms/{id}', 'DELETE', (c, id, o) =>
  platforms().transition(c, id, 'delete', o),
);
acceptedRoute('stopPlatformHttp', 'platforms/{id}/stop', 'POST', (c, id, o) =>
  platforms().transition(c, id, 'stop', o),
);
acceptedRoute('startPlatformHttp', 'platforms/{id}/start', 'POST', (c, id, o) =>
  platforms().transition(c, id, 'start', o),
);
acceptedRoute('wakePlatformHttp', 'platforms/{id}/wake', 'POST', (c, id, o) => platforms().wake(c, id, o));
acceptedRoute('wipePlatformHttp', 'platforms/{id}/wipe', 'POST', (c, id, o) =>
  platforms().transition(c, id, 'wipe', o),
);
acceptedRoute('retryPlatform', 'platforms/{id}/retry', 'POST', (c, id, o) => platforms().retry(c, id, o));
