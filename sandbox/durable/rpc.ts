/**
 * The Durable Functions extension's client API over HTTP, the protocol durable-functions' DurableClient
 * speaks to the host (`rpcBaseUrl`): start, status, list, terminate, raise event, purge. The instance
 * store behind it is shared with the sandbox's orchestration driver, which executes what is started here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended';

export interface Instance {
  instanceId: string;
  name: string;
  input: unknown;
  runtimeStatus: RuntimeStatus;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  pendingEvents: { name: string; data: unknown }[];
}

const ACTIVE: ReadonlySet<RuntimeStatus> = new Set(['Pending', 'Running', 'ContinuedAsNew', 'Suspended']);
export const isActive = (s: RuntimeStatus) => ACTIVE.has(s);

export interface InstanceStoreHooks {
  /** Called after an instance is created (or re-created over a finished one). */
  started?(instance: Instance): void;
  terminated?(instance: Instance, reason: string): void;
  eventRaised?(instance: Instance, name: string, data: unknown): void;
}

export class InstanceStore {
  readonly instances = new Map<string, Instance>();
  hooks: InstanceStoreHooks = {};

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** The extension refuses to overwrite an instance that is still active (OverridableExistingInstanceStates). */
  start(name: string, instanceId: string, input: unknown): Instance | 'conflict' {
    const existing = this.instances.get(instanceId);
    if (existing && isActive(existing.runtimeStatus)) return 'conflict';
    const at = this.now().toISOString();
    const instance: Instance = {
      instanceId,
      name,
      input,
      runtimeStatus: 'Pending',
      customStatus: null,
      output: null,
      createdTime: at,
      lastUpdatedTime: at,
      pendingEvents: [],
    };
    this.instances.set(instanceId, instance);
    this.hooks.started?.(instance);
    return instance;
  }

  update(instanceId: string, change: Partial<Omit<Instance, 'instanceId'>>): void {
    const instance = this.instances.get(instanceId);
    if (!instance) return;
    Object.assign(instance, change, { lastUpdatedTime: this.now().toISOString() });
  }

  terminate(instanceId: string, reason: string): 'ok' | 'missing' | 'gone' {
    const instance = this.instances.get(instanceId);
    if (!instance) return 'missing';
    if (!isActive(instance.runtimeStatus)) return 'gone';
    this.update(instanceId, { runtimeStatus: 'Terminated', output: reason });
    this.hooks.terminated?.(instance, reason);
    return 'ok';
  }
}

/** Serves the extension's HTTP API for an InstanceStore; `clientData()` is what the host binds to `durableClient`. */
export class DurableRpcServer {
  private server?: Server;
  private baseUrl = '';

  constructor(
    readonly store: InstanceStore,
    private readonly taskHubName = 'sandbox',
  ) {}

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/runtime/webhooks/durabletask/`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  clientData() {
    return {
      taskHubName: this.taskHubName,
      creationUrls: {},
      managementUrls: {},
      baseUrl: this.baseUrl,
      requiredQueryStringParameters: '',
      rpcBaseUrl: this.baseUrl,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/^\/runtime\/webhooks\/durabletask\//, '');
    const body = await readBody(req);
    const send = (status: number, payload?: unknown) => {
      res.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = /^orchestrators\/([^/]+)(?:\/([^/]+))?$/.exec(path))) {
      const instanceId = m[2] ? decodeURIComponent(m[2]) : crypto.randomUUID().replace(/-/g, '');
      const result = this.store.start(decodeURIComponent(m[1]!), instanceId, body ? JSON.parse(body) : null);
      if (result === 'conflict')
        return send(409, { message: `An instance with ID '${instanceId}' already exists and is active.` });
      return send(202, { id: instanceId, ...this.links(instanceId) });
    }
    if (req.method === 'GET' && (m = /^instances\/([^/]+)$/.exec(path))) {
      const instance = this.store.instances.get(decodeURIComponent(m[1]!));
      if (!instance) return send(404);
      return send(
        isActive(instance.runtimeStatus) ? 202 : 200,
        this.status(instance, url.searchParams.get('showInput') !== 'false'),
      );
    }
    if (req.method === 'GET' && /^instances\/?$/.test(path)) {
      const wanted = url.searchParams.get('runtimeStatus')?.split(',');
      const list = [...this.store.instances.values()].filter(
        (i) => !wanted || wanted.includes(i.runtimeStatus),
      );
      return send(
        200,
        list.map((i) => this.status(i, false)),
      );
    }
    if (req.method === 'POST' && (m = /^instances\/([^/]+)\/terminate$/.exec(path))) {
      const result = this.store.terminate(decodeURIComponent(m[1]!), url.searchParams.get('reason') ?? '');
      return send(result === 'ok' ? 202 : result === 'missing' ? 404 : 410);
    }
    if (req.method === 'POST' && (m = /^instances\/([^/]+)\/raiseEvent\/([^/]+)$/.exec(path))) {
      const instance = this.store.instances.get(decodeURIComponent(m[1]!));
      if (!instance) return send(404);
      if (!isActive(instance.runtimeStatus)) return send(410);
      const data = body ? JSON.parse(body) : null;
      instance.pendingEvents.push({ name: decodeURIComponent(m[2]!), data });
      this.store.hooks.eventRaised?.(instance, decodeURIComponent(m[2]!), data);
      return send(202);
    }
    if (req.method === 'DELETE' && (m = /^instances\/([^/]+)$/.exec(path))) {
      const deleted = this.store.instances.delete(decodeURIComponent(m[1]!));
      return deleted ? send(200, { instancesDeleted: 1 }) : send(404);
    }
    return send(404);
  }

  private links(instanceId: string) {
    const base = `${this.baseUrl}instances/${encodeURIComponent(instanceId)}`;
    return {
      statusQueryGetUri: base,
      sendEventPostUri: `${base}/raiseEvent/{eventName}`,
      terminatePostUri: `${base}/terminate?reason={text}`,
      purgeHistoryDeleteUri: base,
    };
  }

  private status(i: Instance, showInput: boolean) {
    return {
      name: i.name,
      instanceId: i.instanceId,
      runtimeStatus: i.runtimeStatus,
      input: showInput ? i.input : null,
      customStatus: i.customStatus,
      output: i.output,
      createdTime: i.createdTime,
      lastUpdatedTime: i.lastUpdatedTime,
    };
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
