/**
 * Simulated Ollama HTTP API (in memory): `/api/tags` (pulled models), `/api/ps` (loaded models, `size_vram`
 * > 0 only with a GPU, expiring per keep_alive on the shared clock), `/api/pull` (streaming NDJSON or
 * `stream: false`, finishing `pullMs` of simulated time later; failures answer like Ollama:
 * `{ "error": "pull model manifest: file does not exist" }`), `/api/generate` and `/api/chat` (answered
 * once the model is loaded, which takes simulated time: read from the share, or from the page cache if it
 * was loaded since the pod started; token timings reflect GPU or CPU), `/api/embed`, `/api/show`, `/api/delete`, `/api/version`.
 *
 * The simulated API server's service proxy calls `serve()`; `listen()` serves it on its own port as well.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MODEL_CATALOG } from '../../src/platform/catalog.js';
import { waitUntil, type Clock } from '../clock.js';
import { hashInt } from './json.js';

export interface OllamaModel {
  name: string;
  /** Bytes on disk (and in memory once loaded). */
  size?: number;
  digest?: string;
  modifiedAt?: number;
}

export interface LoadedModel {
  name: string;
  /** A keep_alive value (`"5m"`, `-1`, seconds as a number); default the server's keep-alive. */
  keepAlive?: string | number;
  /** Absolute expiry (ms since epoch); wins over keepAlive. */
  expiresAt?: number;
}

export interface SimulatedOllamaOptions {
  clock: Clock;
  /** Whether the GPU is usable (default true). */
  gpu?: boolean;
  /** Simulated time a pull of a model not yet present takes (default DEFAULT_PULL_MS, 120 s). */
  pullMs?: number;
  /** OLLAMA_KEEP_ALIVE (default "5m"). */
  keepAlive?: string;
  version?: string;
  /**
   * Real milliseconds (not simulated time) to wait before answering requests to a path, e.g.
   * `{ '/api/ps': 200 }`: network and server latency, for benchmarks. Default none.
   */
  latencyMs?: Record<string, number>;
}

interface Stored {
  name: string;
  size: number;
  digest: string;
  modifiedAt: number;
}

interface Loaded {
  name: string;
  expiresAt: number;
  sizeVram: number;
}

/** Simulated time one model pull takes unless `pullMs` says otherwise. */
export const DEFAULT_PULL_MS = 120_000;

/**
 * Loading a model reads it from the Azure Files share: a 100 GiB Premium (provisioned v1) share reads at
 * 110 MiB/s (Azure Files billing documentation), so llama3.1:8b (4.9 GiB) loads in about 45 s; moving it
 * over a T4's PCIe bus takes under a second, so the share sets the pace.
 */
export const SHARE_READ_BYTES_PER_S = 110 * 2 ** 20;
/** A model read since the pod started is in the node's page cache: a reload took 4.2 s (ollama#5826). */
export const CACHED_LOAD_MS = 4_200;
/** A request for a model already in GPU memory starts at once. */
const LOADED_MS = 10;

/** Bytes a pulled model takes: a model of the catalog its library size, others a stable 1–5 GB. */
export function modelSize(model: string): number {
  const name = normalizeModel(model);
  const known = MODEL_CATALOG[name]?.downloadGiB;
  return known ? Math.round(known * 2 ** 30) : 1_000_000_000 + (hashInt(name) % 4_000_000_000);
}

/** Simulated time a load of `bytes` from the share takes (nothing in the page cache). */
export function coldLoadMs(bytes: number): number {
  return Math.round((bytes / SHARE_READ_BYTES_PER_S) * 1000);
}

/** Go's maximum duration: what Ollama reports as expiry for keep_alive < 0 (a date in 2318). */
const FOREVER_MS = 9_223_372_036_854;

export function normalizeModel(name: string): string {
  const bare = name.replace(/^(https?:\/\/)?registry\.ollama\.ai\/library\//, '');
  return bare.includes(':') ? bare : `${bare}:latest`;
}

/** keep_alive (`"5m"`, `"1h30m"`, `"-1"`, `300`) in milliseconds; negative means forever. */
export function parseKeepAlive(value: string | number): number {
  if (typeof value === 'number') return value < 0 ? -1 : value * 1000;
  const trimmed = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) < 0 ? -1 : Number(trimmed) * 1000;
  if (trimmed.startsWith('-')) return -1;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let matched = '';
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * units[m[2]!]!;
    matched += m[0];
  }
  if (matched !== trimmed) throw new Error(`time: invalid duration "${value}"`);
  return total;
}

export class SimulatedOllama {
  readonly requests: { method: string; path: string; status: number }[] = [];
  private readonly clock: Clock;
  private gpu: boolean;
  private pullMs: number;
  private readonly keepAlive: string;
  private readonly version: string;
  private readonly models = new Map<string, Stored>();
  private readonly loadedModels = new Map<string, Loaded>();
  /** Loads in progress (one per model, shared by the requests that wait for it), and models read before. */
  private readonly loading = new Map<string, Promise<void>>();
  private readonly pageCache = new Set<string>();
  private readonly pullFailures = new Map<string, string>();
  /** Pulls made by a Job's pod (model-preload), keyed by Job uid: each model lands at its time. */
  private readonly scheduledPulls = new Map<string, { name: string; at: number }[]>();
  private pending = 0;
  private readonly latency = new Map<string, number>();
  private server?: Server;

  constructor(options: SimulatedOllamaOptions) {
    this.clock = options.clock;
    this.gpu = options.gpu ?? true;
    this.pullMs = options.pullMs ?? DEFAULT_PULL_MS;
    this.keepAlive = options.keepAlive ?? '5m';
    this.version = options.version ?? '0.12.6';
    for (const [path, ms] of Object.entries(options.latencyMs ?? {})) this.setLatency(path, ms);
  }

  // ---- test controls -------------------------------------------------------------------------------

  setPulled(models: (string | OllamaModel)[]): void {
    this.models.clear();
    for (const m of models) this.store(typeof m === 'string' ? { name: m } : m);
  }

  setLoaded(models: (string | LoadedModel)[]): void {
    this.loadedModels.clear();
    for (const m of models) {
      const spec = typeof m === 'string' ? { name: m } : m;
      const name = normalizeModel(spec.name);
      if (!this.models.has(name)) this.store({ name });
      this.load(name, spec.expiresAt ?? this.expiry(spec.keepAlive ?? this.keepAlive), this.gpu);
    }
  }

  /** Pulls of `model` fail with `message` (Ollama's wording by default) until `clearPullFailures()`. */
  failPull(model: string, message = 'pull model manifest: file does not exist'): void {
    this.pullFailures.set(normalizeModel(model), message);
  }

  clearPullFailures(): void {
    this.pullFailures.clear();
  }

  setGpu(gpu: boolean): void {
    this.gpu = gpu;
  }

  setPullDelay(ms: number): void {
    this.pullMs = ms;
  }

  /** Requests to `path` (e.g. `/api/ps`) are answered `ms` real milliseconds late; 0 removes the delay. */
  setLatency(path: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`latency must be a non-negative number, not ${ms}`);
    if (ms === 0) this.latency.delete(path);
    else this.latency.set(path, ms);
  }

  /**
   * What a preload Job's pod does: pull `models` one after the other from `startMs`, each taking the pull
   * delay. Idempotent per `key`. Returns how long the pod runs and which models fail (their pull fails).
   */
  schedulePulls(
    key: string,
    models: readonly string[],
    startMs: number,
  ): { durationMs: number; failed: string[] } {
    const failed = models.filter((m) => this.pullFailures.has(normalizeModel(m)));
    if (!this.scheduledPulls.has(key)) {
      const ok = models.filter((m) => !failed.includes(m));
      this.scheduledPulls.set(
        key,
        ok.map((m, i) => ({ name: normalizeModel(m), at: startMs + (i + 1) * this.pullMs })),
      );
    }
    return { durationMs: Math.max(1, models.length) * this.pullMs, failed };
  }

  private settleScheduled(): void {
    const now = this.clock.now();
    for (const [key, pulls] of this.scheduledPulls) {
      const due = pulls.filter((p) => p.at <= now);
      for (const p of due) if (!this.models.has(p.name)) this.store({ name: p.name });
      this.scheduledPulls.set(
        key,
        pulls.filter((p) => p.at > now),
      );
    }
  }

  /** Names of pulled models. */
  pulled(): string[] {
    this.settleScheduled();
    return [...this.models.keys()].sort();
  }

  /** Names of models loaded now. */
  loaded(): string[] {
    this.expire();
    return [...this.loadedModels.keys()].sort();
  }

  /** Pull requests waiting for simulated time to pass. */
  get pendingPulls(): number {
    return this.pending;
  }

  /** The pod restarted (AKS stop/start): nothing is loaded; pulled models stay (they live on the volume). */
  unloadAll(): void {
    this.loadedModels.clear();
    this.pageCache.clear();
  }

  reset(): void {
    this.models.clear();
    this.loadedModels.clear();
    this.pageCache.clear();
    this.pullFailures.clear();
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handleHttp(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    await this.serve(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks), res);
  }

  // ---- HTTP API ------------------------------------------------------------------------------------

  /** Answers one request on `res`. `context.gpu: false` means the pod serving it has no GPU. */
  async serve(
    method: string,
    path: string,
    body: Buffer,
    res: ServerResponse,
    context: { gpu?: boolean } = {},
  ): Promise<void> {
    const pathname = new URL(path, 'http://ollama').pathname.replace(/\/+$/, '') || '/';
    const latency = this.latency.get(pathname);
    // Real time, before the answer is worked out: the answer reflects the state when it is sent.
    if (latency) await new Promise((resolve) => setTimeout(resolve, latency));
    this.settleScheduled();
    const log = (status: number) => this.requests.push({ method, path: pathname, status });
    const json = (status: number, value: unknown) => {
      log(status);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(value));
    };
    const text = (status: number, value: string) => {
      log(status);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(value);
    };
    let request: Record<string, unknown> = {};
    if (body.length) {
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        if (typeof parsed === 'object' && parsed !== null) request = parsed as Record<string, unknown>;
      } catch {
        return json(400, { error: 'invalid character in request body' });
      }
    }
    const gpu = this.gpu && context.gpu !== false;
    const routes: Record<string, string[]> = {
      '/': ['GET', 'HEAD'],
      '/api/version': ['GET'],
      '/api/tags': ['GET'],
      '/api/ps': ['GET'],
      '/api/pull': ['POST'],
      '/api/generate': ['POST'],
      '/api/chat': ['POST'],
      '/api/embed': ['POST'],
      '/api/show': ['POST'],
      '/api/delete': ['DELETE'],
    };
    const allowed = routes[pathname];
    if (!allowed) return text(404, '404 page not found');
    if (!allowed.includes(method)) return text(405, '405 method not allowed');
    const modelName = (request.model ?? request.name) as unknown;

    switch (pathname) {
      case '/':
        return text(200, 'Ollama is running');
      case '/api/version':
        return json(200, { version: this.version });
      case '/api/tags':
        return json(200, { models: [...this.models.values()].map((m) => this.describe(m)) });
      case '/api/ps':
        this.expire();
        return json(200, {
          models: [...this.loadedModels.values()].map((l) => {
            const m = this.models.get(l.name)!;
            const { modified_at: _modified, ...rest } = this.describe(m);
            return {
              ...rest,
              expires_at: new Date(l.expiresAt).toISOString(),
              size_vram: this.gpu ? l.sizeVram : 0,
              context_length: 4096,
            };
          }),
        });
      case '/api/delete': {
        if (typeof modelName !== 'string') return json(400, { error: 'model is required' });
        const name = normalizeModel(modelName);
        if (!this.models.delete(name)) return json(404, { error: `model '${modelName}' not found` });
        this.loadedModels.delete(name);
        log(200);
        res.writeHead(200);
        return void res.end();
      }
      case '/api/show': {
        if (typeof modelName !== 'string') return json(400, { error: 'model is required' });
        const m = this.models.get(normalizeModel(modelName));
        if (!m) return json(404, { error: `model '${modelName}' not found` });
        return json(200, {
          modelfile: `FROM ${m.name}\n`,
          parameters: 'stop "<|eot_id|>"',
          template: '{{ .Prompt }}',
          details: this.describe(m).details,
          model_info: { 'general.architecture': this.describe(m).details.family },
          capabilities: m.name.includes('embed') ? ['embedding'] : ['completion'],
          modified_at: new Date(m.modifiedAt).toISOString(),
        });
      }
      case '/api/pull':
        return this.pull(modelName, request.stream !== false, res, log);
      case '/api/generate':
      case '/api/chat':
      case '/api/embed': {
        if (typeof modelName !== 'string' || !modelName) return json(400, { error: 'model is required' });
        const name = normalizeModel(modelName);
        const m = this.models.get(name);
        if (!m) return json(404, { error: `model "${modelName}" not found, try pulling it first` });
        let keepMs: number;
        try {
          keepMs = parseKeepAlive((request.keep_alive as string | number | undefined) ?? this.keepAlive);
        } catch (e) {
          return json(400, { error: (e as Error).message });
        }
        this.expire();
        // Like Ollama, the request is answered once the model is in memory (an unload request loads nothing).
        const loadMs = keepMs === 0 && !this.loadedModels.has(name) ? 0 : await this.ensureLoaded(name);
        const loadNs = loadMs * 1_000_000;
        const createdAt = new Date(this.clock.now()).toISOString();
        if (pathname === '/api/embed') {
          this.load(name, this.expiryFromMs(keepMs), gpu);
          const inputs = Array.isArray(request.input) ? request.input : [request.input ?? ''];
          return json(200, {
            model: modelName,
            embeddings: inputs.map((input) =>
              Array.from({ length: 8 }, (_, i) => ((hashInt(`${String(input)}/${i}`) % 2000) - 1000) / 1000),
            ),
            total_duration: loadNs + 50_000_000,
            load_duration: loadNs,
            prompt_eval_count: inputs.length * 4,
          });
        }
        const prompt =
          pathname === '/api/chat'
            ? String(
                (Array.isArray(request.messages)
                  ? (request.messages.at(-1) as { content?: unknown } | undefined)?.content
                  : '') ?? '',
              )
            : String(request.prompt ?? '');
        const emptyPrompt =
          pathname === '/api/generate'
            ? prompt === ''
            : !Array.isArray(request.messages) || request.messages.length === 0;
        if (keepMs === 0) this.loadedModels.delete(name);
        else this.load(name, this.expiryFromMs(keepMs), gpu);
        if (emptyPrompt) {
          const base = {
            model: modelName,
            created_at: createdAt,
            done: true,
            done_reason: keepMs === 0 ? 'unload' : 'load',
          };
          return json(
            200,
            pathname === '/api/chat'
              ? { ...base, message: { role: 'assistant', content: '' } }
              : { ...base, response: '' },
          );
        }
        const answer = `This is a simulated answer from ${name} to: ${prompt.slice(0, 60)}`;
        const words = answer.split(' ');
        const evalCount = words.length;
        const perTokenNs = gpu ? 20_000_000 : 250_000_000;
        const stats = {
          total_duration: loadNs + 30_000_000 + evalCount * perTokenNs,
          load_duration: loadNs,
          prompt_eval_count: Math.max(1, prompt.split(/\s+/).length),
          prompt_eval_duration: 30_000_000,
          eval_count: evalCount,
          eval_duration: evalCount * perTokenNs,
        };
        const piece = (content: string) =>
          pathname === '/api/chat' ? { message: { role: 'assistant', content } } : { response: content };
        if (request.stream === false) {
          return json(200, {
            model: modelName,
            created_at: createdAt,
            ...piece(answer),
            done: true,
            done_reason: 'stop',
            ...(pathname === '/api/generate' ? { context: [1, 2, 3] } : {}),
            ...stats,
          });
        }
        log(200);
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        words.forEach((w, i) =>
          res.write(
            `${JSON.stringify({ model: modelName, created_at: createdAt, ...piece(i ? ` ${w}` : w), done: false })}\n`,
          ),
        );
        res.end(
          `${JSON.stringify({ model: modelName, created_at: createdAt, ...piece(''), done: true, done_reason: 'stop', ...stats })}\n`,
        );
        return;
      }
    }
  }

  private async pull(
    modelName: unknown,
    stream: boolean,
    res: ServerResponse,
    log: (status: number) => void,
  ): Promise<void> {
    if (typeof modelName !== 'string' || !modelName) {
      log(400);
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
      return void res.end(JSON.stringify({ error: 'model is required' }));
    }
    const name = normalizeModel(modelName);
    const failure = this.pullFailures.get(name);
    if (stream) {
      log(200);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ status: 'pulling manifest' })}\n`);
      if (failure) return void res.end(`${JSON.stringify({ error: failure })}\n`);
    } else if (failure) {
      log(500);
      res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
      return void res.end(JSON.stringify({ error: failure }));
    }
    const present = this.models.has(name);
    if (!present && this.pullMs > 0) {
      this.pending++;
      try {
        await waitUntil(this.clock, this.clock.now() + this.pullMs);
      } finally {
        this.pending--;
      }
    }
    const model = this.store({ name });
    if (stream) {
      const digest = `sha256:${model.digest}`;
      res.write(
        `${JSON.stringify({ status: `pulling ${model.digest.slice(0, 12)}`, digest, total: model.size, completed: model.size })}\n`,
      );
      res.write(`${JSON.stringify({ status: 'verifying sha256 digest' })}\n`);
      res.write(`${JSON.stringify({ status: 'writing manifest' })}\n`);
      return void res.end(`${JSON.stringify({ status: 'success' })}\n`);
    }
    log(200);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ status: 'success' }));
  }

  private store(spec: OllamaModel): Stored {
    const name = normalizeModel(spec.name);
    const existing = this.models.get(name);
    if (existing && spec.size === undefined) return existing;
    const stored: Stored = {
      name,
      size: spec.size ?? modelSize(name),
      digest:
        spec.digest ??
        Array.from({ length: 8 }, (_, i) => hashInt(`${name}/${i}`).toString(16).padStart(8, '0')).join(''),
      modifiedAt: spec.modifiedAt ?? this.clock.now(),
    };
    this.models.set(name, stored);
    return stored;
  }

  private describe(m: Stored) {
    const [family = m.name, tag = 'latest'] = m.name.split(':');
    const params = /^(\d+(?:\.\d+)?)b$/i.exec(tag);
    return {
      name: m.name,
      model: m.name,
      modified_at: new Date(m.modifiedAt).toISOString(),
      size: m.size,
      digest: m.digest,
      details: {
        parent_model: '',
        format: 'gguf',
        family: family.replace(/[\d.]+$/, '') || family,
        families: [family.replace(/[\d.]+$/, '') || family],
        parameter_size: params ? `${Number(params[1]).toFixed(1)}B` : '8.0B',
        quantization_level: 'Q4_K_M',
      },
    };
  }

  /** Waits (in simulated time) until `name` is in memory; returns how long this request waited for it. */
  private async ensureLoaded(name: string): Promise<number> {
    if (this.loadedModels.has(name)) return LOADED_MS;
    const start = this.clock.now();
    let load = this.loading.get(name);
    if (!load) {
      const ms = this.pageCache.has(name) ? CACHED_LOAD_MS : coldLoadMs(this.models.get(name)?.size ?? 0);
      load = waitUntil(this.clock, start + ms).finally(() => {
        this.loading.delete(name);
        this.pageCache.add(name);
      });
      this.loading.set(name, load);
    }
    await load;
    return Math.max(LOADED_MS, this.clock.now() - start);
  }

  private load(name: string, expiresAt: number, gpu: boolean) {
    const size = this.models.get(name)?.size ?? 0;
    this.loadedModels.set(name, { name, expiresAt, sizeVram: gpu ? size : 0 });
    this.pageCache.add(name);
  }

  private expiry(keepAlive: string | number): number {
    return this.expiryFromMs(parseKeepAlive(keepAlive));
  }

  private expiryFromMs(ms: number): number {
    return ms < 0 ? this.clock.now() + FOREVER_MS : this.clock.now() + ms;
  }

  private expire() {
    const now = this.clock.now();
    for (const [name, l] of this.loadedModels) if (l.expiresAt <= now) this.loadedModels.delete(name);
  }
}
