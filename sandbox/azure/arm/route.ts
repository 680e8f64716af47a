import type { ArmOperationName } from './faults.js';
import { ArmError, type LroFailure, type Obj, type Reply, type World } from './world.js';

export interface RequestContext {
  world: World;
  method: string;
  apiVersion: string;
  /** Parsed JSON body, `{}` when there is none. */
  body: Obj;
  query: URLSearchParams;
}

/** A request for `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}/{...tail}`. */
export interface ProviderRequest extends RequestContext {
  rgName: string;
  name: string;
  /** Segments after the resource name, as sent and lower-cased. */
  tail: string[];
  ltail: string[];
}

export interface Route {
  op: ArmOperationName;
  /** The request may start a long-running operation: an `lroFailure` fault is handed to `run`. */
  lro?: boolean;
  run(failure?: LroFailure): Reply | Promise<Reply>;
}

export function methodNotAllowed(method: string, what: string): ArmError {
  return new ArmError(405, 'MethodNotAllowed', `The sandbox does not simulate ${method} on ${what}.`);
}

/** Picks the handler for the request's method; 405 for the others. */
export function byMethod(ctx: RequestContext, what: string, handlers: Partial<Record<string, Route>>): Route {
  const route = handlers[ctx.method];
  if (!route) throw methodNotAllowed(ctx.method, what);
  return route;
}
