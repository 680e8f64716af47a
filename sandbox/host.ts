/**
 * Functions host emulation. The real host injects a module named `@azure/functions-core`; @azure/functions
 * calls its `registerFunction(metadata, handler)` for every `app.http`, `app.timer` and `df.app.*`
 * registration. Standing in for that module captures exactly what the real host would receive, so the
 * app's own entry files, bindings and handlers run unchanged. HTTP requests are routed by the registered
 * route templates and methods; `authLevel: 'function'` routes require the function key as Azure does
 * (header `x-functions-key` or query `code`), answering 401 with an empty body otherwise. With `easyAuth`
 * the host also stands in for App Service Authentication (sandbox/easy-auth.ts): it decides which caller
 * headers the app sees.
 */
import functions, { type HttpResponseInit } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

// @azure/functions is CommonJS, and Node's ESM loader does not detect these classes as named exports (only
// vitest's interop did): take them from the module object, which works under both.
const { HttpRequest, HttpResponse, InvocationContext } = functions;
type InvocationContext = functions.InvocationContext;

export interface Binding {
  type: string;
  direction: 'in' | 'out';
  name: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
  [key: string]: unknown;
}

export interface Registration {
  name: string;
  bindings: Record<string, Binding>;
  handler: (...args: unknown[]) => unknown;
  trigger: Binding;
}

export interface LogLine {
  functionName: string;
  level: string;
  message: string;
}

const registrations = new Map<string, Registration>();
let installed = false;

/** Must run before the app's entry files are imported. Idempotent. */
export function installFunctionsCore(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  const coreApi = {
    version: '4.0.0-sandbox',
    setProgrammingModel() {},
    registerFunction(
      metadata: { name: string; bindings: Record<string, Binding> },
      handler: Registration['handler'],
    ) {
      const bindings = Object.fromEntries(
        Object.entries(metadata.bindings).map(([name, b]) => [name, { ...b, name }]),
      );
      const trigger = Object.values(bindings).find((b) => /trigger$/i.test(b.type));
      if (!trigger) throw new Error(`function ${metadata.name} has no trigger`);
      if (registrations.has(metadata.name)) throw new Error(`function ${metadata.name} is registered twice`);
      registrations.set(metadata.name, { name: metadata.name, bindings, handler, trigger });
      return { dispose() {} };
    },
    registerHook() {
      return { dispose() {} };
    },
    getProgrammingModel() {
      return undefined;
    },
  };
  const load = Module._load;
  Module._load = function (request: string, ...rest: unknown[]) {
    return request === '@azure/functions-core' ? coreApi : load.call(this, request, ...rest);
  };
}

export function getRegistrations(): ReadonlyMap<string, Registration> {
  return registrations;
}

export interface HostOptions {
  functionKey: string;
  /** Value the host passes for `durableClient` input bindings (the extension's client data). */
  durableClientData?: () => unknown;
  onLog?: (line: LogLine) => void;
  /** App Service Authentication: the headers the app receives for the client's headers. */
  easyAuth?: { authenticate(headers: Record<string, string>): Promise<Record<string, string>> };
}

export interface EmulatedRequest {
  method: string;
  /** Absolute URL (http://127.0.0.1:7071/platforms?dryRun=true). */
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface EmulatedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class FunctionsHost {
  readonly logs: LogLine[] = [];

  constructor(private readonly options: HostOptions) {}

  /** Dispatches one HTTP request the way the Functions host does. */
  async http(req: EmulatedRequest): Promise<EmulatedResponse> {
    const url = new URL(req.url);
    const match = this.route(req.method.toUpperCase(), url.pathname);
    if (!match) return { status: 404, headers: {}, body: '' };
    const { registration, params } = match;
    if ((registration.trigger.authLevel ?? 'anonymous') !== 'anonymous' && !this.authorized(req, url)) {
      return { status: 401, headers: {}, body: '' };
    }
    const body =
      req.body === undefined || req.body.length === 0
        ? undefined
        : typeof req.body === 'string'
          ? { string: req.body }
          : { bytes: req.body };
    const headers = this.options.easyAuth
      ? await this.options.easyAuth.authenticate(req.headers ?? {})
      : (req.headers ?? {});
    const request = new HttpRequest({
      method: req.method.toUpperCase(),
      url: req.url,
      headers,
      params,
      body,
      query: Object.fromEntries(url.searchParams),
    });
    const context = this.context(registration);
    let result: unknown;
    try {
      result = await registration.handler(request, context);
    } catch (e) {
      // The real host answers an unhandled exception with a bare 500.
      this.record(registration.name, 'error', `Unhandled: ${(e as Error).message}`);
      return { status: 500, headers: {}, body: '' };
    }
    const response =
      result instanceof HttpResponse ? result : new HttpResponse((result ?? {}) as HttpResponseInit);
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, key) => (responseHeaders[key] = value));
    return { status: response.status, headers: responseHeaders, body: await response.text() };
  }

  /** Invokes a timer-triggered function now. */
  async fireTimer(name: string): Promise<void> {
    const registration = registrations.get(name);
    if (!registration || registration.trigger.type !== 'timerTrigger')
      throw new Error(`no timer function ${name}`);
    await registration.handler({ isPastDue: false, scheduleStatus: {} }, this.context(registration));
  }

  /** A context with the function's binding options and its extra inputs filled as the host fills them. */
  context(registration: Registration): InvocationContext {
    const extraInputs = Object.values(registration.bindings).filter(
      (b) => b.direction === 'in' && b !== registration.trigger,
    );
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: registration.name,
      logHandler: (level, ...args) => this.record(registration.name, level, args.map(String).join(' ')),
      options: {
        trigger: registration.trigger as never,
        extraInputs: extraInputs as never,
        extraOutputs: [],
      },
    });
    for (const input of extraInputs) {
      if (input.type === 'durableClient' || input.type === 'orchestrationClient') {
        if (!this.options.durableClientData)
          throw new Error(`${registration.name} needs a durable client and none is configured`);
        context.extraInputs.set(input.name, this.options.durableClientData());
      }
    }
    return context;
  }

  private record(functionName: string, level: string, message: string) {
    const line = { functionName, level, message };
    this.logs.push(line);
    this.options.onLog?.(line);
  }

  private authorized(req: EmulatedRequest, url: URL): boolean {
    const header = Object.entries(req.headers ?? {}).find(
      ([k]) => k.toLowerCase() === 'x-functions-key',
    )?.[1];
    return (header ?? url.searchParams.get('code')) === this.options.functionKey;
  }

  /** Literal segments win over parameters, as in ASP.NET routing. */
  private route(method: string, pathname: string) {
    const segments = pathname
      .replace(/^\/+|\/+$/g, '')
      .split('/')
      .map(decodeURIComponent);
    let best: { registration: Registration; params: Record<string, string>; literals: number } | undefined;
    for (const registration of registrations.values()) {
      const t = registration.trigger;
      if (t.type !== 'httpTrigger' || !(t.methods ?? ['GET', 'POST']).includes(method)) continue;
      const template = (t.route ?? registration.name).replace(/^\/+|\/+$/g, '').split('/');
      // A catch-all `{*name}` as the last part takes one or more remaining segments, joined by '/'.
      const catchAll = /^\{\*(\w+)\}$/.exec(template.at(-1) ?? '');
      if (catchAll ? segments.length < template.length : template.length !== segments.length) continue;
      const params: Record<string, string> = {};
      if (catchAll) params[catchAll[1]!] = segments.slice(template.length - 1).join('/');
      let literals = 0;
      const ok = (catchAll ? template.slice(0, -1) : template).every((part, i) => {
        const param = /^\{(\w+)\}$/.exec(part);
        if (param) return ((params[param[1]!] = segments[i]!), true);
        literals++;
        return part.toLowerCase() === segments[i]!.toLowerCase();
      });
      if (ok && (!best || literals > best.literals)) best = { registration, params, literals };
    }
    return best;
  }
}
