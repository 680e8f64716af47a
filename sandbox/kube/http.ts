/**
 * What every handler answers with: JSON bodies, Status errors, decoded request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { Cluster } from './cluster.js';
import { isObject, type JsonObject } from './json.js';
import type { ResourceType } from './resources.js';
import { ApiError } from './store.js';

export interface KubeRequest {
  method: string;
  path: string;
  query: string;
  contentType?: string;
  status: number;
}

export interface Route {
  group: string;
  version: string;
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** Rest of the path after `proxy/`. */
  proxyPath?: string;
}

/** One request to a resource, as the handler of a verb or subresource receives it. */
export interface Call {
  cluster: Cluster;
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  body: Buffer;
  method: string;
  /** `<group>/<version>`, or the version alone for the core group. */
  apiVersion: string;
  query: URLSearchParams;
  dryRun: boolean;
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function sendStatus(res: ServerResponse, error: ApiError): void {
  send(res, error.code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: error.reason,
    ...(error.details ? { details: error.details } : {}),
    code: error.code,
  });
}

export function notFound(type: ResourceType, name: string): ApiError {
  return new ApiError(
    404,
    'NotFound',
    `${type.plural}${type.group ? `.${type.group}` : ''} "${name}" not found`,
    {
      name,
      ...(type.group ? { group: type.group } : {}),
      kind: type.plural,
    },
  );
}

export function parseBody(body: Buffer, contentType: string | undefined): JsonObject {
  let parsed: unknown;
  try {
    const text = body.toString('utf8');
    parsed = (contentType ?? '').includes('yaml') ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new ApiError(
      400,
      'BadRequest',
      `the body of the request could not be decoded: ${(e as Error).message}`,
    );
  }
  if (!isObject(parsed)) throw new ApiError(400, 'BadRequest', 'the body of the request is not an object');
  return parsed;
}

export function defaultManager(req: IncomingMessage): string {
  return (req.headers['user-agent'] ?? '').split('/')[0] || 'unknown';
}
