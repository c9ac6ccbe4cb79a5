import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { ApiError } from './api-error.js';
import { resolveRuntimeAdapter } from './adapter-path.js';
import { bearerMatches } from './auth.js';
import { generationHandler } from './generation.js';
import { sendError, toApiError } from './http-errors.js';
import type { AdapterInfo, WorkerOptions } from './messages.js';
import { ServerMetrics } from './metrics.js';
import { ModelWorker } from './model-worker.js';
import { chatSchema, completionSchema, loadAdapterSchema, unloadAdapterSchema } from './schemas.js';

export interface ServeOptions {
  /** A model folder or hub repo id; also the base model's name in requests' `model` unless `servedModelName`. */
  model: string;
  /** The base model's name in requests and /v1/models (vLLM's --served-model-name); default `model`. */
  servedModelName?: string;
  /** Adapters loaded at start (`--adapter name=DIR`): the operator's choice, from anywhere. */
  adapters?: AdapterInfo[];
  /** The only folder adapters loaded at run time over HTTP may come from; without it run-time loading is off. */
  adapterDir?: string;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Every request but /health and /metrics must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Most rows (prompts × n) decoding at once. Default 16. */
  maxBatch?: number;
  /** Most generation requests waiting for a batch; more are answered 429. Default 64. */
  maxQueue?: number;
  /** Largest request body. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** libtorch threads of the model worker; default TUNEKIT_THREADS, else all cores but one (the HTTP thread's). */
  threads?: number;
  dtype?: 'float32' | 'bfloat16';
}

/** One line of the access log. */
export interface AccessLogEntry {
  time: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  stream?: boolean;
  /** The client went away before the answer was complete; its generation was cancelled. */
  cancelled?: boolean;
}

interface ServerEvents {
  request: [AccessLogEntry];
  warning: [string];
}

/** A running server: where it listens, its events (access log, warnings) and a graceful close. */
export interface OpenAIServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  /** libtorch threads of the model worker. */
  readonly threads: number;
  /** Warnings from loading the model and adapters; later ones (run-time loads) come as `warning` events. */
  readonly startupWarnings: readonly string[];
  readonly events: EventEmitter<ServerEvents>;
  readonly metrics: ServerMetrics;
  /** Stops accepting connections, lets in-flight requests finish, then stops the model worker. */
  close(): Promise<void>;
}

/**
 * The model worker's libtorch threads when neither the caller nor TUNEKIT_THREADS sets them: every core but one,
 * which the HTTP thread needs. Measured on a 2-core machine with stories260K: 8 sequential requests took 0.84 s
 * at 1 thread and 12 s at 2, whose spinning pool starved the HTTP thread.
 */
function defaultThreads(): number | undefined {
  if (process.env.TUNEKIT_THREADS !== undefined && process.env.TUNEKIT_THREADS !== '') return undefined;
  return Math.max(1, availableParallelism() - 1);
}

/**
 * Starts an OpenAI-compatible server for one base model and its adapters: the model lives in a worker thread,
 * so the HTTP thread stays free (health checks answer under load). Endpoints: /v1/completions,
 * /v1/chat/completions, /v1/models, vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter, /health, /metrics.
 */
export async function startServer(options: ServeOptions): Promise<OpenAIServer> {
  const host = options.host ?? '127.0.0.1';
  const maxQueue = options.maxQueue ?? 64;
  const baseName = options.servedModelName ?? options.model;
  const workerOptions: WorkerOptions = {
    model: options.model,
    adapters: options.adapters ?? [],
    maxBatch: options.maxBatch ?? 16,
    threads: options.threads ?? defaultThreads(),
    dtype: options.dtype,
  };
  for (const adapter of workerOptions.adapters) {
    if (adapter.name === baseName) throw new ApiError(400, `an adapter cannot be named like the base model ("${baseName}")`);
  }
  const worker = await ModelWorker.start(workerOptions);
  const events = new EventEmitter<ServerEvents>();
  const metrics = new ServerMetrics(() => worker.waiting, () => worker.running);
  worker.onStep = (rows, durationMs, liveTensors) => {
    metrics.batchRows.observe(rows);
    metrics.stepSeconds.observe(durationMs / 1000);
    metrics.workerTensors = liveTensors;
  };
  worker.onWarning = (message) => events.emit('warning', message);
  const created = Math.floor(Date.now() / 1000);

  const app: FastifyInstance = Fastify({
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // Requests on kept-alive connections while draining get OpenAI's body (below), not Fastify's own 503.
    return503OnClosing: false,
  });
  let draining = false;
  const started = new WeakMap<FastifyRequest, number>();
  const details = new WeakMap<FastifyRequest, Partial<AccessLogEntry>>();

  const logged = new WeakSet<FastifyRequest>();
  /** Once per request: Fastify's onResponse hook, or the route itself for a cancelled request. */
  function logAccess(request: FastifyRequest, status: number): void {
    if (logged.has(request)) return;
    logged.add(request);
    const durationMs = performance.now() - (started.get(request) ?? performance.now());
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, status: String(status) });
    metrics.requestSeconds.observe(durationMs / 1000);
    const path = request.url.split('?')[0];
    events.emit('request', { time: new Date().toISOString(), method: request.method, path, status, durationMs: Math.round(durationMs * 10) / 10, ...details.get(request) });
  }

  // With an API key, everything but the health and metrics probes needs it, judged by the route matched (the
  // router decodes the path, so a check on the raw URL could be walked around with %-escapes).
  const openRoutes = new Set(['/health', '/metrics']);
  app.addHook('onRequest', async (request, reply) => {
    started.set(request, performance.now());
    if (draining) return sendError(reply.header('connection', 'close'), new ApiError(503, 'the server is shutting down', null, 'server_shutting_down'));
    const route = request.routeOptions.url;
    if (options.apiKey !== undefined && (route === undefined || !openRoutes.has(route)) && !bearerMatches(request.headers.authorization, options.apiKey)) {
      return sendError(reply, new ApiError(401, 'Incorrect API key provided: send it as "Authorization: Bearer <key>"', null, 'invalid_api_key'));
    }
  });
  app.addHook('onResponse', async (request, reply) => logAccess(request, reply.statusCode));
  app.setErrorHandler((error: FastifyError, _request, reply) => sendError(reply, toApiError(error)));
  app.setNotFoundHandler((request, reply) => sendError(reply, new ApiError(404, `no route ${request.method} ${request.url.split('?')[0]}`, null, 'unknown_url')));

  /** null for the base model, else the adapter name; unknown names are OpenAI's 404 model_not_found. */
  function adapterFor(model: string): string | null {
    if (model === baseName) return null;
    if (worker.adapters.some((adapter) => adapter.name === model)) return model;
    const known = [baseName, ...worker.adapters.map((adapter) => adapter.name)].join(', ');
    throw new ApiError(404, `The model \`${model}\` does not exist (this server has: ${known}).`, 'model', 'model_not_found');
  }

  const generation = generationHandler({ worker, metrics, maxQueue, maxBatch: workerOptions.maxBatch, adapterFor, logAccess, noteRequest: (request, entry) => details.set(request, entry) });

  app.post('/v1/completions', { schema: { body: completionSchema } }, (request, reply) => generation('completion', request, reply));
  app.post('/v1/chat/completions', { schema: { body: chatSchema } }, (request, reply) => generation('chat', request, reply));

  /** The base and each adapter as OpenAI's model objects, with vLLM's `root`, `parent` and `max_model_len`. */
  const modelCards = () => [
    { id: baseName, object: 'model', created, owned_by: 'tunekit', root: worker.info.modelDir, parent: null, max_model_len: worker.info.contextLength },
    ...worker.adapters.map((adapter) => ({ id: adapter.name, object: 'model', created, owned_by: 'tunekit', root: adapter.dir, parent: baseName, max_model_len: worker.info.contextLength })),
  ];
  app.get('/v1/models', async () => ({ object: 'list', data: modelCards() }));
  // Names may hold slashes (a hub id or a folder), so the rest of the path is the name.
  app.get('/v1/models/*', async (request) => {
    const id = decodeURIComponent((request.params as { '*': string })['*']);
    const card = modelCards().find((model) => model.id === id || model.id === `/${id}`);
    if (card === undefined) throw new ApiError(404, `The model \`${id}\` does not exist.`, 'model', 'model_not_found');
    return card;
  });

  app.post('/v1/load_lora_adapter', { schema: { body: loadAdapterSchema } }, async (request, reply) => {
    const { lora_name: name, lora_path: loraPath } = request.body as { lora_name: string; lora_path: string };
    if (name === baseName) throw new ApiError(400, `an adapter cannot be named like the base model ("${baseName}")`, 'lora_name');
    if (worker.adapters.some((adapter) => adapter.name === name)) throw new ApiError(400, `The lora adapter '${name}' has already been loaded.`, 'lora_name', 'adapter_exists');
    const dir = await resolveRuntimeAdapter(options.adapterDir, loraPath);
    await worker.loadAdapter({ name, dir });
    details.set(request, { model: name });
    return reply.code(200).type('text/plain; charset=utf-8').send(`Success: LoRA adapter '${name}' added successfully.`);
  });

  app.post('/v1/unload_lora_adapter', { schema: { body: unloadAdapterSchema } }, async (request, reply) => {
    const { lora_name: name } = request.body as { lora_name: string };
    await worker.unloadAdapter(name);
    details.set(request, { model: name });
    return reply.code(200).type('text/plain; charset=utf-8').send(`Success: LoRA adapter '${name}' removed successfully.`);
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render()));

  try {
    await app.listen({ host, port: options.port ?? 8000 });
  } catch (error) {
    await worker.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    threads: worker.info.threads,
    startupWarnings: worker.startupWarnings,
    events,
    metrics,
    close: () => {
      closing ??= (async () => {
        draining = true;
        await app.close();
        await worker.close();
      })();
      return closing;
    },
  };
}
