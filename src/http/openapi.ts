/**
 * The OpenAPI 3.1 document, built from the same JSON Schemas the validator uses so the two cannot drift.
 * Response shapes are described loosely (the fields clients rely on); request bodies exactly.
 */
import { PREFIX_PATTERN } from '../platform/naming.js';
import { createPlatformSchema, updatePlatformSchema, type SchemaOptions } from '../platform/schema.js';
import { PHASES } from '../platform/phases.js';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, problemTypeUri } from './problem.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const problemResponse = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ref('Problem') } },
});
const jsonResponse = (description: string, schema: object, headers?: object) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema } },
});
const locationHeader = { Location: { description: 'Where to follow progress.', schema: { type: 'string' } } };
const idParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The platform id (its prefix).',
  schema: { type: 'string', pattern: PREFIX_PATTERN },
};
// Both gates at once: the function key (header or query) and a caller App Service Authentication signed in.
const security = [
  { functionKey: [], entraId: [] },
  { functionKeyQuery: [], entraId: [] },
];

const common = {
  '401': {
    description:
      'Missing or wrong function key (answered by the Functions host, without a body), or no authenticated caller (problem+json, `WWW-Authenticate: Bearer`).',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: ref('Problem') } },
  },
  '403': problemResponse(
    'The caller has none of the roles Platforms.Admin, Platforms.Operator, Platforms.Reader, or its role does not allow this (a Reader changing a platform).',
  ),
  '500': problemResponse('Unexpected fault (never caused by client input).'),
  '503': problemResponse('A dependency is unavailable; retry later.'),
};

export function buildOpenApi(options: SchemaOptions & { version: string }) {
  const accepted = jsonResponse('Accepted; follow the Location header.', ref('Accepted'), locationHeader);
  const transition = (summary: string, operationId: string) => ({
    summary,
    operationId,
    security,
    parameters: [idParameter],
    responses: {
      '202': accepted,
      '404': problemResponse('Unknown platform, or one the caller neither owns nor administers.'),
      '409': problemResponse('Not possible in the current phase, or another operation runs.'),
      ...common,
    },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'LLM platforms API',
      version: options.version,
      description:
        'Creates, stops, starts and tears down per-tenant LLM platforms (AKS with a T4 spot GPU pool, Ollama, Open WebUI, PostgreSQL with pgvector, monitoring) on Azure.',
    },
    paths: {
      '/platforms': {
        post: {
          summary: 'Create a platform (or, with dryRun, show its plan).',
          operationId: 'createPlatform',
          security,
          parameters: [
            { name: 'dryRun', in: 'query', required: false, schema: { type: 'boolean', default: false } },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('CreatePlatformRequest') } },
          },
          responses: {
            '200': jsonResponse('Dry run: the plan; nothing is created.', {
              type: 'object',
              properties: { dryRun: { const: true }, plan: ref('Plan') },
            }),
            '202': jsonResponse(
              'Accepted (phase Pending), or queued (phase Queued with its position): no subscription of the pool has room in the region now, but one will once the platforms being deleted there are gone; it is admitted then, first in first out. Follow the Location header.',
              ref('Accepted'),
              locationHeader,
            ),
            '400': problemResponse('Invalid body: `errors` names every bad field by JSON pointer.'),
            '409': problemResponse(
              'The prefix is taken, an operation on it is running, or the platform does not fit the quota of its region in any subscription of the pool, not even once the platforms being deleted there are gone (`quota-exceeded`: `quotas` lists each with its subscriptionId, limit, in use, needed, left and missing).',
            ),
            '413': problemResponse('Body larger than 64 KiB.'),
            '415': problemResponse('Body is not JSON.'),
            ...common,
          },
        },
        get: {
          summary: 'List platforms with their phase.',
          operationId: 'listPlatforms',
          security,
          parameters: [
            {
              name: 'includeDeleted',
              in: 'query',
              required: false,
              schema: { type: 'boolean', default: false },
            },
          ],
          responses: {
            '200': jsonResponse('The platforms.', {
              type: 'object',
              properties: { platforms: { type: 'array', items: ref('PlatformSummary') } },
            }),
            ...common,
          },
        },
      },
      '/platforms/{id}': {
        get: {
          summary: 'A platform: its spec (without secrets), phase, names and endpoints.',
          operationId: 'getPlatform',
          security,
          parameters: [idParameter],
          responses: {
            '200': jsonResponse('The platform.', ref('Platform')),
            '404': problemResponse('Unknown platform, or one the caller neither owns nor administers.'),
            ...common,
          },
        },
        patch: {
          summary:
            'Change models, Open WebUI replicas, auto-stop or owners. A models or replicas change runs the update flow (from Ready); an auto-stop or owners change alone is recorded at once.',
          operationId: 'updatePlatform',
          security,
          parameters: [idParameter],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref('UpdatePlatformRequest') },
              'application/merge-patch+json': { schema: ref('UpdatePlatformRequest') },
            },
          },
          responses: {
            '200': jsonResponse('Recorded; no flow was needed.', ref('Platform')),
            '202': jsonResponse(
              'The update flow started; follow the Location header.',
              ref('UpdateAccepted'),
              locationHeader,
            ),
            '400': problemResponse('Invalid body: `errors` names every bad field by JSON pointer.'),
            '404': problemResponse('Unknown platform, or one the caller neither owns nor administers.'),
            '409': problemResponse('Not possible in the current phase, or another operation runs.'),
            '413': problemResponse('Body larger than 64 KiB.'),
            '415': problemResponse('Body is not JSON.'),
            ...common,
          },
        },
        delete: transition(
          'Delete the platform and everything it owns (from any phase; idempotent).',
          'deletePlatform',
        ),
      },
      '/platforms/{id}/status': {
        get: {
          summary: 'Progress and health: phase, steps, models, endpoints, cost, auto-stop.',
          operationId: 'getPlatformStatus',
          security,
          parameters: [idParameter],
          responses: {
            '200': jsonResponse('The status.', ref('Status')),
            '404': problemResponse('Unknown platform, or one the caller neither owns nor administers.'),
            ...common,
          },
        },
      },
      '/platforms/{id}/stop': { post: transition('Stop AKS, then PostgreSQL.', 'stopPlatform') },
      '/platforms/{id}/start': {
        post: transition('Start PostgreSQL, then AKS, and wait for the workloads.', 'startPlatform'),
      },
      '/platforms/{id}/wake': {
        post: transition(
          'Wake the GPU tier the idle sweep released (autoStop.gpuIdleMinutes): Ollama back to one, its GPU node back through the cluster autoscaler; the status shows the tier waking, then running. A chat does the same by itself (held at the interceptor until Ollama answers). Waking or running: 202, nothing new. A Stopped platform is started (202, operation start, and detail says so).',
          'wakePlatform',
        ),
      },
      '/platforms/{id}/wipe': {
        post: transition(
          'Clear users, chats, documents and embeddings: re-create the openwebui database and restart Open WebUI. Infrastructure and models stay.',
          'wipePlatform',
        ),
      },
      '/platforms/{id}/retry': {
        post: transition(
          'Run the failed flow of a Failed platform again (a failed update as provisioning); finished steps are found and skipped.',
          'retryPlatform',
        ),
      },
      '/health': {
        get: {
          summary: 'Liveness and configuration check (no key needed).',
          operationId: 'health',
          responses: {
            '200': jsonResponse('Healthy.', { type: 'object', properties: { status: { const: 'ok' } } }),
            '503': problemResponse('Misconfigured.'),
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document.',
          operationId: 'openapi',
          responses: { '200': jsonResponse('OpenAPI 3.1.', { type: 'object' }) },
        },
      },
      '/console': {
        get: {
          summary:
            'The operator console (HTML; no key needed for the page, which calls this API with the caller’s key and token).',
          operationId: 'console',
          responses: { '200': { description: 'The page.', content: { 'text/html': {} } } },
        },
      },
      '/console/{path}': {
        get: {
          summary: 'The console’s static assets (content-hashed, cached for good).',
          operationId: 'consoleAsset',
          parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The asset.' },
            '404': { description: 'No such asset.' },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
        entraId: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "A Microsoft Entra ID access token for the API's app registration, validated by App Service Authentication before the app runs. App roles: Platforms.Admin (every platform), Platforms.Operator (create; operate the platforms it owns), Platforms.Reader (read the platforms it owns). A caller owns a platform when its object id or one of its groups is among the platform's owners.",
        },
      },
      schemas: {
        CreatePlatformRequest: stripId(createPlatformSchema(options)),
        UpdatePlatformRequest: stripId(updatePlatformSchema(options)),
        Phase: { type: 'string', enum: [...PHASES] },
        Links: { type: 'object', properties: { self: { type: 'string' }, status: { type: 'string' } } },
        Accepted: {
          type: 'object',
          required: ['id', 'phase', 'operation', 'links'],
          properties: {
            id: { type: 'string' },
            phase: ref('Phase'),
            operation: { type: 'string' },
            links: ref('Links'),
            detail: { type: 'string', description: 'What was done instead of what was asked, if anything.' },
            position: {
              type: 'integer',
              minimum: 1,
              description:
                'Queued only: its place in the queue (first in, first out by creation time; 1 is admitted next).',
            },
          },
        },
        UpdateAccepted: {
          allOf: [
            ref('Accepted'),
            {
              type: 'object',
              properties: {
                change: {
                  type: 'object',
                  properties: {
                    addedModels: { type: 'array', items: { type: 'string' } },
                    removedModels: { type: 'array', items: { type: 'string' } },
                    replicas: {
                      type: 'object',
                      properties: { from: { type: 'integer' }, to: { type: 'integer' } },
                    },
                  },
                },
              },
            },
          ],
        },
        PlatformSummary: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            phase: ref('Phase'),
            position: {
              type: 'integer',
              minimum: 1,
              description:
                'Queued only: its place in the queue (first in, first out by creation time; 1 is admitted next).',
            },
            location: { type: 'string' },
            models: { type: 'array', items: { type: 'string' } },
            costPerHour: ref('CostPerHour'),
            warnings: { type: 'array', items: { type: 'string' }, description: 'As the status shows them.' },
            planned: {
              type: 'array',
              description:
                "As the status shows it: the idle sweep's next actions (releaseGpu, stop, and the learned pre-warm's start or wakeGpu) with at and reason.",
              items: { type: 'object' },
            },
            links: ref('Links'),
          },
        },
        Endpoints: {
          type: 'object',
          description:
            "Once the platform's HTTPS entry has its public IP: Open WebUI at https://<label>.<region>.cloudapp.azure.com and Grafana at /grafana/ on the same host (its own sign-in). HTTPS only; no plain-HTTP endpoint exists.",
          properties: {
            'open-webui': { type: 'string', format: 'uri' },
            grafana: { type: 'string', format: 'uri' },
          },
        },
        Platform: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            phase: ref('Phase'),
            spec: { type: 'object' },
            owners: {
              type: 'array',
              items: { type: 'string' },
              description:
                'Entra object ids that own the platform; empty on records made before owners existed.',
            },
            subscriptionId: {
              type: 'string',
              description:
                'The subscription of the pool the platform was placed in; absent on records made before the pool (the default subscription).',
            },
            names: { type: 'object' },
            endpoints: ref('Endpoints'),
            links: ref('Links'),
          },
        },
        Status: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            phase: ref('Phase'),
            queue: {
              type: 'object',
              description:
                'Queued only: waiting for the platforms being deleted in its subscription and region; position 1 is admitted next.',
              properties: { position: { type: ['integer', 'null'] } },
            },
            orchestration: { type: ['object', 'null'] },
            steps: { type: 'array', items: { type: 'object' } },
            models: { type: 'object' },
            endpoints: ref('Endpoints'),
            credentials: {
              type: 'object',
              description: 'Where each credential lives: Key Vault secret names, never values.',
              properties: {
                keyVaultSecrets: { type: 'array', items: { type: 'string' } },
                accounts: {
                  type: 'object',
                  description:
                    'Per credential (openWebuiAdmin, grafanaAdmin, postgresAdmin, openWebuiDatabase, openWebuiSecretKey, huggingFaceToken when given): where it is used (url or host), as whom (user), and the Key Vault secret holding it.',
                  additionalProperties: {
                    type: 'object',
                    required: ['keyVaultSecret'],
                    properties: {
                      url: { type: 'string', format: 'uri' },
                      host: { type: 'string' },
                      user: { type: 'string' },
                      keyVaultSecret: { type: 'string' },
                    },
                  },
                },
                softDeleted: {
                  type: 'array',
                  description:
                    'After a teardown whose purges Key Vault purge protection refused: the secrets it keeps soft-deleted, and when it purges them.',
                  items: {
                    type: 'object',
                    required: ['name'],
                    properties: {
                      name: { type: 'string' },
                      scheduledPurgeDate: { type: 'string', format: 'date-time' },
                    },
                  },
                },
              },
            },
            lastError: { type: ['object', 'null'] },
            warnings: { type: 'array', items: { type: 'string' } },
            smokeTest: {
              type: ['object', 'null'],
              description: 'First model: tokens/s and whether it ran on the GPU.',
            },
            power: {
              type: ['object', 'null'],
              description: 'AKS and PostgreSQL power state as last observed, with observedAt.',
            },
            lastActiveAt: { type: ['string', 'null'] },
            autoStop: {
              type: 'object',
              description:
                'idleMinutes, gpuIdleMinutes, stopsAt (when it stops if it stays idle) and gpuReleasesAt (when its GPU is released if it stays idle).',
            },
            tiers: {
              type: 'object',
              description:
                "Each tier's state: platform (running, stopped, or the phase) and gpu (running, released, waking, stopped, or the phase; since, and why a wake has not finished).",
            },
            planned: {
              type: 'array',
              description:
                "The idle sweep's next actions if nobody uses the platform: releaseGpu, stop, and the learned pre-warm's start (Stopped) or wakeGpu (released); each with at and reason.",
              items: { type: 'object' },
            },
            costPerHour: ref('CostPerHour'),
          },
        },
        CostPerHour: {
          type: 'object',
          description:
            'An estimate from list prices (the dry-run plan has its breakdown and assumptions): running, Ready with the GPU tier released (autoStop.gpuIdleMinutes), and stopped.',
          required: ['currency', 'running', 'gpuIdle', 'stopped'],
          properties: {
            currency: { type: 'string', const: 'USD' },
            running: { type: 'number' },
            gpuIdle: { type: 'number' },
            stopped: { type: 'number' },
          },
        },
        Plan: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            azure: { type: 'array', items: { type: 'object' } },
            kubernetes: { type: 'array', items: { type: 'object' } },
            secrets: { type: 'array', items: { type: 'string' } },
            cost: { type: 'object' },
            admission: {
              type: 'object',
              description:
                'The fit in the quotas of the region and subscription: fits, and per quota its limit, inUse, needed, left and missing.',
            },
            placement: {
              type: 'object',
              description:
                'Where it would be placed: subscriptionId (the first of the pool with room; null: none), queuedIn (no room now, but once the platforms being deleted there are gone: it would be Queued there) and subscriptions, each with fits, fitsAfterDeletions when platforms are being deleted there, or unreadable.',
            },
          },
        },
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details.',
          required: ['type', 'title', 'status', 'detail'],
          properties: {
            type: {
              type: 'string',
              enum: Object.keys(PROBLEM_TYPES).map((t) => problemTypeUri(t as keyof typeof PROBLEM_TYPES)),
            },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                required: ['message'],
                properties: {
                  pointer: { type: 'string', description: 'JSON Pointer to the bad field of the body.' },
                  parameter: { type: 'string', description: 'The bad query parameter.' },
                  message: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
  };
}

function stripId<T extends { $id?: string }>(schema: T): Omit<T, '$id'> {
  const { $id: _id, ...rest } = schema;
  return rest;
}
