import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, errorResponse } from './api-error.js';
import { sendError } from './http-errors.js';
import type { ChoiceDelta } from './messages.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelWorker } from './model-worker.js';
import { chatRequest, completionRequest } from './params.js';
import type { ChatBody, CompletionBody } from './schemas.js';
import type { AccessLogEntry } from './server.js';
import { ChoiceState, chatShape, completionShape, type ResponseShape, usage } from './shapes.js';

export type GenerationKind = 'completion' | 'chat';

export interface GenerationContext {
  worker: ModelWorker;
  metrics: ServerMetrics;
  /** Most requests waiting for a batch before more get 429. */
  maxQueue: number;
  /** Most rows decoding at once: a request needs prompts × n of them together. */
  maxBatch: number;
  /** The adapter a request's `model` names (null: the base); throws the 404 for unknown names. */
  adapterFor(model: string): string | null;
  /** Logs a request that ends outside Fastify's reply (a client that left). */
  logAccess(request: FastifyRequest, status: number): void;
  /** Attaches what the access log line reports about a generation request. */
  noteRequest(request: FastifyRequest, entry: Partial<AccessLogEntry>): void;
}

/**
 * The handler of /v1/completions and /v1/chat/completions: checks the request, submits it to the model worker,
 * and answers with one JSON object or, with `stream`, server-sent events as tokens arrive. A client that goes
 * away cancels its request.
 */
export function generationHandler(context: GenerationContext): (kind: GenerationKind, request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const { worker, metrics, maxQueue, adapterFor, logAccess } = context;
  return async function generation(kind, request, reply) {
    const body = request.body as CompletionBody | ChatBody;
    const adapter = adapterFor(body.model);
    const { prompts, params } = kind === 'chat' ? chatRequest(body as ChatBody) : completionRequest(body as CompletionBody);
    if (kind === 'chat' && !worker.info.hasChatTemplate) throw new ApiError(400, 'this model has no chat template (tokenizer_config.json chat_template or chat_template.jinja): use /v1/completions', 'messages');
    const rows = prompts.length * params.n;
    if (rows > context.maxBatch) {
      throw new ApiError(400, `this request needs ${rows} sequences (${prompts.length} prompt${prompts.length === 1 ? '' : 's'} × n = ${params.n}); this server decodes at most ${context.maxBatch} at once`, params.n > 1 ? 'n' : 'prompt', 'too_many_sequences');
    }
    if (worker.waiting >= maxQueue) throw new ApiError(429, `the server is busy: ${worker.waiting} requests are waiting; retry later`, null, 'queue_full');
    const shape: ResponseShape = kind === 'chat' ? chatShape : completionShape;
    const stream = body.stream === true;
    const includeUsage = stream && body.stream_options?.include_usage === true;
    const id = shape.idPrefix + randomUUID().replace(/-/g, '');
    const createdAt = Math.floor(Date.now() / 1000);
    const states = Array.from({ length: rows }, () => new ChoiceState());
    const wantLogprobs = params.logprobs !== null;
    const entry: Partial<AccessLogEntry> = { model: body.model, stream };
    context.noteRequest(request, entry);
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
            for (const choice of shape.openingChoices(rows)) reply.raw.write(chunk([choice]));
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
              if (includeUsage) reply.raw.write(chunk([], { usage: totals }));
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
  };
}
