/**
 * Kubernetes clients for one cluster: its API server and CA (public data from AKS) with an Entra ID bearer
 * token for AKS's server application, built into a KubeConfig in memory. No kubeconfig with a secret is
 * read or kept; the token is never stored, logged or returned.
 */
import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  KubeConfig,
  KubernetesObjectApi,
  Observable,
  PatchStrategy,
  ServerConfiguration,
  type Configuration,
  type HttpMethod,
  setHeaderOptions,
  type KubernetesObject,
  type ObservableMiddleware,
  type RequestContext,
} from '@kubernetes/client-node';
import { Agent } from 'node:https';
import { createSecureContext } from 'node:tls';

/** One fixed field manager: re-applying our own manifests never conflicts with ourselves. */
export const FIELD_MANAGER = 'llm-platforms-api';

export interface KubeClients {
  objects: KubernetesObjectApi;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  autoscaling: AutoscalingV2Api;
  /** CRD objects by group, version and plural (KEDA's ScaledObjects), with no discovery request. */
  custom: CustomObjectsApi;
  /** Server-side apply of one object with `fieldValidation=Strict`; returns the live object. */
  apply(object: KubernetesObject): Promise<KubernetesObject>;
  /**
   * Sets a Deployment's replicas through its scale subresource (as `kubectl scale` and the HPA do), so the
   * count is owned apart from the applied manifest; returns the replicas the server now holds.
   */
  scaleDeployment(namespace: string, name: string, replicas: number): Promise<number>;
  /** The same for a StatefulSet (Ollama). */
  scaleStatefulSet(namespace: string, name: string, replicas: number): Promise<number>;
  /** GET/POST/DELETE through the API server's service proxy (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/{path}`). */
  proxyGet(namespace: string, service: string, port: number, path: string): Promise<unknown>;
  proxyPost(namespace: string, service: string, port: number, path: string, body: unknown): Promise<unknown>;
  proxyDelete(
    namespace: string,
    service: string,
    port: number,
    path: string,
    body: unknown,
  ): Promise<unknown>;
}

/** A cluster's API server, the CA its certificate chains to, and the bearer token to present. */
export interface ClusterConnection {
  name: string;
  server: string;
  /** Base64 PEM, as in a kubeconfig's `certificate-authority-data`. */
  caData?: string;
  /** The token itself, or where each request reads a current one (clients kept across token refreshes). */
  token: string | (() => Promise<string>);
  /**
   * The agent every request goes through (keep-alive, trusting the cluster's CA: `clusterAgent`). Without
   * one, client-node builds a new agent, and so a new TLS connection, for every request.
   */
  agent?: Agent;
}

/**
 * A keep-alive agent for one cluster's API server that trusts only that cluster's CA. The TLS context is
 * built once: given only `ca`, every new connection (each probe after the server closed an idle one)
 * would parse the CA into a new context.
 */
export function clusterAgent(caData: string | undefined): Agent {
  return new Agent({
    keepAlive: true,
    // One idle connection per cluster is what a probe needs; more would only hold sockets open.
    maxFreeSockets: 1,
    scheduling: 'lifo',
    ...(caData ? { secureContext: createSecureContext({ ca: Buffer.from(caData, 'base64') }) } : {}),
  });
}

/**
 * A KubeConfig whose requests carry a token read at each request and go through one kept agent: the
 * base class builds a new https.Agent for every request (client-node 1.4.0,
 * `KubeConfig.applySecurityAuthentication`), which costs a TCP and TLS handshake each time.
 */
class KeptConnectionConfig extends KubeConfig {
  constructor(
    private readonly bearer: () => Promise<string>,
    private readonly agent: Agent,
  ) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    context.setHeaderParam('Authorization', `Bearer ${await this.bearer()}`);
    context.setAgent(this.agent);
  }
}

/** Clients from a connection, or from a whole kubeconfig (tools and tests). */
export function kubeClients(source: ClusterConnection | string): KubeClients {
  let kc = new KubeConfig();
  if (typeof source === 'string') kc.loadFromString(source);
  else {
    const { token, agent } = source;
    if (agent || typeof token !== 'string')
      kc = new KeptConnectionConfig(
        typeof token === 'string' ? async () => token : token,
        agent ?? clusterAgent(source.caData),
      );
    kc.loadFromClusterAndUser(
      {
        name: source.name,
        server: source.server,
        skipTLSVerify: false,
        ...(source.caData ? { caData: source.caData } : {}),
      },
      // The kept-connection config sets the token itself, per request.
      { name: 'entra', ...(typeof token === 'string' && !agent ? { token } : {}) },
    );
  }
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  // The generated proxy POST has no body parameter: a per-call middleware adds the JSON body, keeping the
  // kubeconfig's TLS settings (a plain fetch would not trust the cluster's CA).
  const jsonBody = (body: unknown): ObservableMiddleware => ({
    pre: (ctx) => {
      ctx.setHeaderParam('Content-Type', 'application/json');
      ctx.setBody(JSON.stringify(body));
      return new Observable(Promise.resolve(ctx));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  });
  const apps = kc.makeApiClient(AppsV1Api);
  return {
    objects,
    core,
    apps,
    batch: kc.makeApiClient(BatchV1Api),
    autoscaling: kc.makeApiClient(AutoscalingV2Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    apply: (object) =>
      objects.patch(
        object,
        undefined,
        undefined,
        FIELD_MANAGER,
        false,
        PatchStrategy.ServerSideApply,
        strictApply(kc, object),
      ),
    scaleDeployment: async (namespace, name, replicas) => {
      // The generated patch methods send JSON Patch by default; a merge patch of spec.replicas says it plainly.
      const scale = await apps.patchNamespacedDeploymentScale(
        { name, namespace, fieldManager: FIELD_MANAGER, body: { spec: { replicas } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return scale.spec?.replicas ?? 0;
    },
    scaleStatefulSet: async (namespace, name, replicas) => {
      const scale = await apps.patchNamespacedStatefulSetScale(
        { name, namespace, fieldManager: FIELD_MANAGER, body: { spec: { replicas } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return scale.spec?.replicas ?? 0;
    },
    proxyGet: (namespace, service, port, path) =>
      core.connectGetNamespacedServiceProxyWithPath({
        name: `${service}:${port}`,
        namespace,
        path,
      }),
    proxyPost: (namespace, service, port, path, body) =>
      core.connectPostNamespacedServiceProxyWithPath(
        { name: `${service}:${port}`, namespace, path },
        { middleware: [jsonBody(body)], middlewareMergeStrategy: 'append' },
      ),
    proxyDelete: (namespace, service, port, path, body) =>
      core.connectDeleteNamespacedServiceProxyWithPath(
        { name: `${service}:${port}`, namespace, path },
        { middleware: [jsonBody(body)], middlewareMergeStrategy: 'append' },
      ),
  };
}

/**
 * The per-call configuration of a strict apply. client-node 1.4.0's `KubernetesObjectApi.patch` has no
 * `fieldValidation` parameter, and it serializes built-in kinds through its generated models, which drop the
 * fields they do not know: a misspelt field would vanish before the API server could refuse it. `patch`
 * builds its request from the `baseServer` of the configuration passed last (authentication and middleware
 * stay those of the client), so that is where the query parameter and the object as rendered are set.
 * With `fieldValidation=Strict` the API server fails the request with BadRequest on any unknown field
 * (Kubernetes API reference, PatchOptions `fieldValidation`).
 */
function strictApply(kc: KubeConfig, object: KubernetesObject): Configuration {
  const server = kc.getCurrentCluster()?.server ?? '';
  const body = JSON.stringify(object);
  class StrictApplyServer extends ServerConfiguration<Record<string, string>> {
    override makeRequestContext(endpoint: string, method: HttpMethod): RequestContext {
      const context = super.makeRequestContext(endpoint, method);
      context.setQueryParam('fieldValidation', 'Strict');
      const setBody = context.setBody.bind(context);
      context.setBody = () => setBody(body);
      return context;
    }
  }
  return createConfiguration({ baseServer: new StrictApplyServer(server, {}), authMethods: { default: kc } });
}

/** The Kubernetes `Status` of a failed call (client-node carries its body as a JSON string). */
export function kubeStatus(e: unknown): { code: number; reason: string; message: string } | undefined {
  const err = e as { code?: number; body?: unknown };
  if (typeof err?.code !== 'number') return undefined;
  let body: { reason?: string; message?: string } = {};
  try {
    body =
      typeof err.body === 'string'
        ? (JSON.parse(err.body) as typeof body)
        : ((err.body as typeof body) ?? {});
  } catch {
    /* not JSON */
  }
  return {
    code: err.code,
    reason: body.reason ?? `Http${err.code}`,
    message: body.message ?? String((e as Error).message ?? e),
  };
}
