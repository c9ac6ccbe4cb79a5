import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError, errorResponse } from './api-error.js';
import { resolveRuntimeAdapter } from './adapter-path.js';
import { bearerMatches } from './auth.js';
import type { AdapterInfo, ChoiceDelta, WorkerOptions } from './messages.js';
import { ServerMetrics } from './metrics.js';
import { ModelWorker } from './model-worker.js';
import { chatRequest, completionRequest } from './params.js';
import { chatSchema, completionSchema, loadAdapterSchema, SHAPES, unloadAdapterSchema, type ChatBody, type CompletionBody } from './schemas.js';
import { ChoiceState, chatShape, completionShape, type ResponseShape, usage } from './shapes.js';

export interface ServeOptions {
  /** A model folder or hub repo id; also the base model's name in requests' `model`. */
  model: string;
  /** Adapters loaded at start (`--adapter name=DIR`): the operator's choice, from anywhere. */
  adapters?: AdapterInfo[];
  /** The only folder adapters loaded at run time over HTTP may come from; without it run-time loading is off. */
  adapterDir?: string;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Requests to /v1/… must carry `Authorization: Bearer <apiKey>`. */
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

type GenerationKind = 'completion' | 'chat';

/** `/messages/0/content` → `messages[0].content` (OpenAI's `param`). */
function paramName(pointer: string, extra?: string): string | null {
  const parts = pointer.split('/').filter((part) => part !== '');
  if (extra !== undefined) parts.push(extra);
  if (parts.length === 0) return null;
  return parts.map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** A schema failure as one 400 naming the field. */
function validationError(errors: AjvError[]): ApiError {
  const shapeError = errors.find((error) => error.keyword === 'anyOf');
  const error = shapeError ?? errors[0];
  const extra = typeof error.params.missingProperty === 'string' ? error.params.missingProperty : typeof error.params.additionalProperty === 'string' ? error.params.additionalProperty : undefined;
  const param = paramName(error.instancePath, extra);
  const leaf = error.instancePath.split('/').filter((part) => !/^\d*$/.test(part)).pop() ?? '';
  if (error.keyword === 'required') return new ApiError(400, `${param} is required`, param, 'missing_required_parameter');
  if (error.keyword === 'additionalProperties') return new ApiError(400, `unrecognized request argument supplied: ${param}`, param, 'unknown_parameter');
  if (error.keyword === 'anyOf') return new ApiError(400, `${param} must be ${SHAPES[leaf] ?? 'of another shape'}`, param, 'invalid_type');
  if (error.keyword === 'type') {
    const types = ([] as unknown[]).concat(error.params.type).filter((type) => type !== 'null');
    return new ApiError(400, `${param ?? 'the body'} must be of type ${types.join(' or ')}`, param, 'invalid_type');
  }
  return new ApiError(400, `${param ?? 'the body'} ${error.message ?? 'is invalid'}`, param, 'invalid_value');
}

/** Any error a route or Fastify raised, as OpenAI's body. */
function toApiError(error: FastifyError | Error): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as FastifyError & { validation?: AjvError[] };
  if (fastifyError.validation !== undefined) return validationError(fastifyError.validation);
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'the request body is larger than this server accepts', null, 'body_too_large');
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, 'send the body as application/json', null, 'unsupported_media_type');
  if (fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ApiError(400, 'the body is empty: send a JSON object', null, 'invalid_json');
  const status = fastifyError.statusCode ?? 500;
  if (status === 400) return new ApiError(400, `the body is not valid JSON: ${error.message}`, null, 'invalid_json');
  return new ApiError(status, status >= 500 ? `internal error: ${error.message}` : error.message);
}

function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.status).type('application/json').send(errorResponse(error.body));
}

/**
 * Starts an OpenAI-compatible server for one base model and its adapters: the model lives in a worker thread,
 * so the HTTP thread stays free (health checks answer under load). Endpoints: /v1/completions,
 * /v1/chat/completions, /v1/models, vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter, /health, /metrics.
 */
export async function startServer(options: ServeOptions): Promise<OpenAIServer> {
  const host = options.host ?? '127.0.0.1';
  const maxQueue = options.maxQueue ?? 64;
  const baseName = options.model;
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
  worker.onStep = (rows, durationMs) => {
    metrics.batchRows.observe(rows);
    metrics.stepSeconds.observe(durationMs / 1000);
  };
  worker.onWarning = (message) => events.emit('warning', message);
  const created = Math.floor(Date.now() / 1000);

  const app: FastifyInstance = Fastify({
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    return503OnClosing: true,
  });
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

  app.addHook('onRequest', async (request, reply) => {
    started.set(request, performance.now());
    if (options.apiKey !== undefined && request.url.startsWith('/v1/') && !bearerMatches(request.headers.authorization, options.apiKey)) {
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

  async function generation(kind: GenerationKind, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = request.body as CompletionBody | ChatBody;
    const adapter = adapterFor(body.model);
    const { prompts, params } = kind === 'chat' ? chatRequest(body as ChatBody) : completionRequest(body as CompletionBody);
    if (kind === 'chat' && !worker.info.hasChatTemplate) throw new ApiError(400, 'this model has no chat template (tokenizer_config.json chat_template or chat_template.jinja): use /v1/completions', 'messages');
    if (worker.waiting >= maxQueue) throw new ApiError(429, `the server is busy: ${worker.waiting} requests are waiting; retry later`, null, 'queue_full');
    const shape: ResponseShape = kind === 'chat' ? chatShape : completionShape;
    const stream = body.stream === true;
    const includeUsage = stream && body.stream_options?.include_usage === true;
    const id = shape.idPrefix + randomUUID().replace(/-/g, '');
    const createdAt = Math.floor(Date.now() / 1000);
    const states = Array.from({ length: prompts.length * params.n }, () => new ChoiceState());
    const wantLogprobs = params.logprobs !== null;
    const entry: Partial<AccessLogEntry> = { model: body.model, stream };
    details.set(request, entry);
    const chunk = (choices: Record<string, unknown>[], extra: Record<string, unknown> = {}): string =>
      `data: ${JSON.stringify({ id, object: shape.chunkObject, created: createdAt, model: body.model, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;

    return new Promise<FastifyReply>((resolve) => {
      let finished = false;
      let streaming = false;
      let promptTokens = 0;
      const requestStarted = performance.now();
      let firstToken = true;
      const handle = worker.submit(
        { adapter, prompts, params, promptField: kind === 'chat' ? 'messages' : 'prompt' },
        {
          started: (tokens) => {
            promptTokens = tokens;
            entry.promptTokens = tokens;
            if (!stream) return;
            streaming = true;
            reply.hijack();
            reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
            const opening = shape.openingChoices(states.length);
            for (const choice of opening) reply.raw.write(chunk([choice]));
          },
          deltas: (deltas: ChoiceDelta[]) => {
            if (firstToken) {
              metrics.firstTokenSeconds.observe((performance.now() - requestStarted) / 1000);
              firstToken = false;
            }
            for (const delta of deltas) {
              states[delta.index].add(delta);
              if (streaming) for (const choice of shape.chunkChoices(delta, states[delta.index])) reply.raw.write(chunk([choice]));
            }
          },
          done: (completionTokens) => {
            finished = true;
            entry.completionTokens = completionTokens;
            metrics.promptTokens.inc({}, promptTokens);
            metrics.generationTokens.inc({}, completionTokens);
            const totals = usage(promptTokens, completionTokens);
            if (streaming) {
              if (includeUsage) reply.raw.write(`data: ${JSON.stringify({ id, object: shape.chunkObject, created: createdAt, model: body.model, choices: [], usage: totals })}\n\n`);
              reply.raw.end('data: [DONE]\n\n');
              resolve(reply);
              return;
            }
            const choices = states.map((state, index) => shape.choice(index, state, wantLogprobs));
            resolve(reply.code(200).send({ id, object: shape.object, created: createdAt, model: body.model, choices, usage: totals }));
          },
          failed: (error) => {
            finished = true;
            if (streaming) {
              reply.raw.write(`data: ${JSON.stringify(errorResponse(error.body))}\n\n`);
              reply.raw.end('data: [DONE]\n\n');
              resolve(reply);
              return;
            }
            resolve(sendError(reply, error));
          },
        },
      );
      reply.raw.on('close', () => {
        if (finished) return;
        finished = true;
        handle.cancel();
        entry.cancelled = true;
        if (!streaming) reply.hijack();
        logAccess(request, 499);
        resolve(reply);
      });
    });
  }

  app.post('/v1/completions', { schema: { body: completionSchema } }, (request, reply) => generation('completion', request, reply));
  app.post('/v1/chat/completions', { schema: { body: chatSchema } }, (request, reply) => generation('chat', request, reply));

  app.get('/v1/models', async () => ({
    object: 'list',
    data: [
      { id: baseName, object: 'model', created, owned_by: 'tunekit', root: worker.info.modelDir, parent: null, max_model_len: worker.info.contextLength },
      ...worker.adapters.map((adapter) => ({ id: adapter.name, object: 'model', created, owned_by: 'tunekit', root: adapter.dir, parent: baseName, max_model_len: worker.info.contextLength })),
    ],
  }));

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
  for (const warning of worker.startupWarnings) events.emit('warning', warning);
  let closing: Promise<void> | null = null;
  return {
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    threads: worker.info.threads,
    events,
    metrics,
    close: () => {
      closing ??= (async () => {
        await app.close();
        await worker.close();
      })();
      return closing;
    },
  };
}
