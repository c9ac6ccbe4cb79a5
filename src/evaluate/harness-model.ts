/**
 * A model as lm-eval's `hf` backend (HFLM) drives it, for the three request kinds:
 * - loglikelihood(context, continuation): trailing whitespace of the context moves into the continuation; causal
 *   models encode context + continuation whole and take the continuation's tokens as what follows the context's
 *   own encoding (seq2seq encode both apart, the continuation without special tokens); an empty context is the
 *   prefix token (BOS, else EOS). Inputs longer than max_length + 1 lose tokens from the left. Result: the summed
 *   log-probabilities of the continuation and whether greedy decoding would have produced it.
 * - loglikelihood_rolling(text): disjoint windows of max_length tokens, the first conditioned on the prefix token.
 * - generate_until(context, kwargs): greedy, `until` strings plus the EOS text, cut at the first stop string.
 * Special tokens follow the tokenizer's defaults (tokenizer.json's post-processor), except that a text already
 * starting with the prefix token's text is encoded without them, as HFLM.tok_encode does.
 */
import { TunekitError } from '../errors.js';
import { generate } from '../generate/generate.js';
import { generationOptionsFromConfig, type GenerationOptions } from '../generate/options.js';
import { KVCache } from '../models/kv-cache.js';
import type { CausalLM, LanguageModel } from '../models/types.js';
import { inferenceMode } from '../torch/runtime.js';
import { tensor } from '../torch/ops.js';
import { type Tensor, tidy } from '../torch/tensor.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';

export const HARNESS_MODEL_ERROR = 'E_EVAL_MODEL';
/** transformers' VERY_LARGE_INTEGER, what tokenizers without a limit report as model_max_length. */
const TOKENIZER_INFINITY = 1000000000000000019884624838656;
const DEFAULT_MAX_LENGTH = 2048;
const DEFAULT_MAX_GEN_TOKS = 256;

export interface HarnessModelOptions {
  /** Requests per forward pass (default 1). */
  batchSize?: number;
  /** Overrides the context length lm-eval would read from config.json / the tokenizer. */
  maxLength?: number;
  /** The model's generation_config.json (its decoding defaults apply under the task's settings, as in transformers). */
  generationConfig?: Record<string, unknown> | null;
  /** Called after each batch with the number of requests done. */
  onProgress?: (done: number, total: number) => void;
  /** Run a context shared by several requests once (causal models; default true). */
  shareContexts?: boolean;
}

export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

export interface GenerationRequest {
  context: string;
  kwargs: Record<string, unknown>;
}

interface EncodedRequest {
  index: number;
  context: number[];
  continuation: number[];
}

/** lm-eval's resolve_max_length: n_positions, max_position_embeddings, n_ctx, the tokenizer's limit, 2048. */
export function harnessMaxLength(model: LanguageModel, tokenizer: Tokenizer): number {
  const config = model.source?.config ?? {};
  const text = (config.text_config ?? config) as Record<string, unknown>;
  for (const key of ['n_positions', 'max_position_embeddings', 'n_ctx']) {
    if (typeof text[key] === 'number') return text[key] as number;
  }
  // transformers' T5Config (and others) carry n_positions with a default even when config.json omits it.
  if (model.config.modelType === 't5' || model.config.modelType === 'mt5') return 512;
  if (tokenizer.modelMaxLength !== undefined && tokenizer.modelMaxLength !== TOKENIZER_INFINITY && tokenizer.modelMaxLength < 1e15) return tokenizer.modelMaxLength;
  return DEFAULT_MAX_LENGTH;
}

function firstId(value: number | number[] | undefined): number | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * utils.get_rolling_token_windows(context_len=1) + make_disjoint_window: (context, predicted) windows covering
 * every token once, each at most maxLength long, the first conditioned on the prefix token alone.
 */
export function rollingWindows(tokens: readonly number[], prefixToken: number, maxLength: number): [number[], number[]][] {
  const windows: [number[], number[]][] = [];
  if (tokens.length === 0) return windows;
  const first = Math.min(maxLength, tokens.length);
  windows.push([[prefixToken, ...tokens.slice(0, first - 1)], tokens.slice(0, first)]);
  let predicted = first;
  while (predicted < tokens.length) {
    const windowPredLen = Math.min(tokens.length - predicted, maxLength);
    const end = predicted + windowPredLen;
    windows.push([tokens.slice(Math.max(0, end - maxLength - 1), end - 1), tokens.slice(end - windowPredLen, end)]);
    predicted += windowPredLen;
  }
  return windows.map(([context, continuation]) => [context.slice(0, context.length - (continuation.length - 1)), continuation]);
}

/** The `generation_kwargs` keys lm-eval passes on to transformers' generate, as GenerationOptions. */
const GENERATION_KWARGS: Record<string, keyof GenerationOptions> = {
  num_beams: 'numBeams',
  repetition_penalty: 'repetitionPenalty',
  length_penalty: 'lengthPenalty',
  top_k: 'topK',
  top_p: 'topP',
  min_new_tokens: 'minNewTokens',
};

export class HarnessModel {
  readonly maxLength: number;
  readonly batchSize: number;
  readonly prefixTokenId: number;
  readonly backend: 'causal' | 'seq2seq';
  readonly shareContexts: boolean;
  readonly #prefixText: string;
  /** Called after each batch with the number of requests done (set by the evaluator per request kind). */
  progress?: (done: number, total: number) => void;
  readonly #generationDefaults: GenerationOptions;

  constructor(
    readonly model: LanguageModel,
    readonly tokenizer: Tokenizer,
    options: HarnessModelOptions = {},
  ) {
    this.backend = model.kind;
    this.maxLength = options.maxLength ?? harnessMaxLength(model, tokenizer);
    this.batchSize = options.batchSize ?? 1;
    this.shareContexts = options.shareContexts ?? true;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new TunekitError(HARNESS_MODEL_ERROR, `batch size must be a positive integer, got ${this.batchSize}`);
    const prefix = tokenizer.bosTokenId ?? firstId(tokenizer.eosTokenId);
    if (prefix === undefined) throw new TunekitError(HARNESS_MODEL_ERROR, `${tokenizer.folder}: the tokenizer has neither a BOS nor an EOS token, so an empty context has nothing to condition on`);
    this.prefixTokenId = prefix;
    this.#prefixText = tokenizer.decode([prefix]);
    this.progress = options.onProgress;
    this.#generationDefaults = generationOptionsFromConfig(options.generationConfig);
  }

  /** HFLM.tok_encode: the tokenizer's special tokens, unless told, or unless the text starts with the prefix token. */
  encode(text: string, addSpecialTokens?: boolean): number[] {
    const add = addSpecialTokens ?? !(this.#prefixText !== '' && text.startsWith(this.#prefixText));
    return this.tokenizer.encode(text, { addSpecialTokens: add });
  }

  /** The (context, continuation) token ids of one request, as TemplateLM.loglikelihood / _encode_pair make them. */
  encodePair(context: string, continuation: string): [number[], number[]] {
    if (context === '') {
      const ids = this.encode(continuation, false);
      if (ids.length === 0) throw new TunekitError(HARNESS_MODEL_ERROR, `the continuation ${JSON.stringify(continuation)} has no tokens`);
      return this.prefixTokenId !== ids[0] ? [[this.prefixTokenId], ids] : [ids.slice(0, 1), ids.slice(1)];
    }
    const trimmed = context.replace(/\s+$/u, '');
    const moved = context.slice(trimmed.length);
    const ctx = trimmed;
    const cont = moved + continuation;
    if (this.backend === 'causal') {
      const whole = this.encode(ctx + cont);
      const contextIds = this.encode(ctx);
      return [contextIds, whole.slice(contextIds.length)];
    }
    return [this.encode(ctx), this.encode(cont, false)];
  }

  /** (log-likelihood, is greedy) of each continuation given its context. */
  loglikelihood(requests: readonly LoglikelihoodRequest[]): [number, boolean][] {
    const encoded = requests.map((request, index) => {
      const [context, continuation] = this.encodePair(request.context, request.continuation);
      return { index, context, continuation };
    });
    return this.scoreTokens(encoded);
  }

  /** Summed log-likelihood of each whole text, over lm-eval's disjoint rolling windows. */
  loglikelihoodRolling(texts: readonly string[]): number[] {
    const windows: EncodedRequest[] = [];
    const owners: number[] = [];
    texts.forEach((text, index) => {
      for (const [context, continuation] of rollingWindows(this.encode(text), this.prefixTokenId, this.maxLength)) {
        windows.push({ index: windows.length, context, continuation });
        owners.push(index);
      }
    });
    const scores = this.scoreTokens(windows);
    const totals = texts.map(() => 0);
    scores.forEach(([ll], i) => (totals[owners[i]] += ll));
    return totals;
  }

  /**
   * HFLM._loglikelihood_tokens: longest first (as its Collator orders them), batched, right-padded. With
   * `shareContexts` (causal models), requests with the same context tokens (a multiple-choice question's choices)
   * run the context once and every continuation from its cached keys and values: the same numbers up to float
   * rounding, one context pass instead of one per choice.
   */
  scoreTokens(requests: readonly EncodedRequest[]): [number, boolean][] {
    const results: [number, boolean][] = new Array(requests.length);
    let done = 0;
    let rest: readonly EncodedRequest[] = requests;
    if (this.shareContexts && this.backend === 'causal') {
      const groups = new Map<string, EncodedRequest[]>();
      for (const request of requests) {
        this.#check(request);
        if (request.context.length + request.continuation.length > this.maxLength + 1) continue;
        const key = request.context.join(',');
        groups.set(key, [...(groups.get(key) ?? []), request]);
      }
      const shared = [...groups.values()].filter((group) => group.length > 1);
      const sharedSet = new Set(shared.flat());
      rest = requests.filter((request) => !sharedSet.has(request));
      for (const group of shared) {
        this.#scoreSharedContext(group).forEach((score, i) => (results[group[i].index] = score));
        done += group.length;
        this.progress?.(done, requests.length);
      }
    }
    const order = [...rest].sort((a, b) => {
      const la = a.context.length + a.continuation.length;
      const lb = b.context.length + b.continuation.length;
      if (la !== lb) return lb - la;
      const ta = [...a.context, ...a.continuation];
      const tb = [...b.context, ...b.continuation];
      for (let i = 0; i < ta.length; i++) if (ta[i] !== tb[i]) return tb[i] - ta[i];
      return 0;
    });
    for (let start = 0; start < order.length; start += this.batchSize) {
      const chunk = order.slice(start, start + this.batchSize);
      const scored = this.backend === 'causal' ? this.#scoreCausal(chunk) : this.#scoreSeq2Seq(chunk);
      chunk.forEach((request, i) => (results[request.index] = scored[i]));
      done += chunk.length;
      this.progress?.(done, requests.length);
    }
    return results;
  }

  /** One pass over the shared context (its last position predicts each continuation's first token), then all continuations at once from the cache. */
  #scoreSharedContext(group: readonly EncodedRequest[]): [number, boolean][] {
    const model = this.model as CausalLM;
    const context = group[0].context;
    const cache = new KVCache();
    try {
      return inferenceMode(() =>
        tidy(() => {
          const contextLogits = model.forward(tensor([context], { dtype: 'int64' }), { cache, lastOnly: true });
          const first = contextLogits.select(0, 0).select(0, contextLogits.shape[1] - 1).logSoftmax(-1);
          const firstLogProbs = first.toFlatArray();
          const firstGreedy = first.argmax(0).item();
          const width = Math.max(...group.map((request) => request.continuation.length - 1));
          let rest: Tensor | null = null;
          if (width > 0) {
            cache.select(tensor(group.map(() => 0), { dtype: 'int64' }));
            const inputs = group.map((request) => {
              const row = request.continuation.slice(0, -1);
              return [...row, ...new Array(width - row.length).fill(0)];
            });
            rest = model.forward(tensor(inputs, { dtype: 'int64' }), { cache }).logSoftmax(-1);
          }
          return group.map((request, row) => {
            const [head, ...tail] = request.continuation;
            let total = firstLogProbs[head];
            let greedy = firstGreedy === head;
            if (tail.length > 0 && rest !== null) {
              const [sum, tailGreedy] = this.#continuationScore(rest.select(0, row), 0, tail);
              // float32 arithmetic, as the one-pass sum over the whole continuation is.
              total = Math.fround(Math.fround(total) + Math.fround(sum));
              greedy = greedy && tailGreedy;
            }
            return [total, greedy] as [number, boolean];
          });
        }),
      );
    } finally {
      cache.dispose();
    }
  }

  #check(request: EncodedRequest): void {
    if (request.context.length === 0 || request.continuation.length === 0) {
      throw new TunekitError(HARNESS_MODEL_ERROR, 'a log-likelihood request needs a non-empty context and continuation after tokenization');
    }
    if (request.continuation.length > this.maxLength) {
      throw new TunekitError(HARNESS_MODEL_ERROR, `a continuation of ${request.continuation.length} tokens does not fit the model's ${this.maxLength}`);
    }
  }

  #scoreCausal(chunk: readonly EncodedRequest[]): [number, boolean][] {
    const inputs = chunk.map((request) => {
      this.#check(request);
      return [...request.context, ...request.continuation].slice(-(this.maxLength + 1)).slice(0, -1);
    });
    const width = Math.max(...inputs.map((row) => row.length));
    const padded = inputs.map((row) => [...row, ...new Array(width - row.length).fill(0)]);
    return inferenceMode(() =>
      tidy(() => {
        const logProbs = this.model.logits({ inputIds: padded }).logSoftmax(-1);
        // A soft prompt puts its virtual positions in front of the inputs.
        const offset = logProbs.shape[1] - width;
        return chunk.map((request, row) => this.#continuationScore(logProbs.select(0, row), offset + inputs[row].length - request.continuation.length, request.continuation));
      }),
    );
  }

  #scoreSeq2Seq(chunk: readonly EncodedRequest[]): [number, boolean][] {
    const contexts = chunk.map((request) => {
      this.#check(request);
      return request.context.slice(-this.maxLength);
    });
    const continuations = chunk.map((request) => request.continuation.slice(-this.maxLength));
    const width = Math.max(...contexts.map((row) => row.length));
    const labelWidth = Math.max(...continuations.map((row) => row.length));
    const inputIds = contexts.map((row) => [...row, ...new Array(width - row.length).fill(0)]);
    const attentionMask = contexts.map((row) => [...row.map(() => 1), ...new Array(width - row.length).fill(0)]);
    const labels = continuations.map((row) => [...row, ...new Array(labelWidth - row.length).fill(0)]);
    return inferenceMode(() =>
      tidy(() => {
        const logProbs = this.model.logits({ inputIds, attentionMask, labels }).logSoftmax(-1);
        return continuations.map((continuation, row) => this.#continuationScore(logProbs.select(0, row), 0, continuation));
      }),
    );
  }

  #continuationScore(rowLogProbs: ReturnType<LanguageModel['logits']>, start: number, continuation: readonly number[]): [number, boolean] {
    const slice = rowLogProbs.narrow(0, start, continuation.length);
    const greedy = slice.argmax(1).toFlatArray();
    const picked = slice.gather(1, tensor(continuation.map((id) => [id]), { dtype: 'int64' }));
    return [picked.sum().item(), greedy.every((id, i) => id === continuation[i])];
  }

  /** HFLM.generate_until: greedy continuations cut at the first stop string. */
  generateUntil(requests: readonly GenerationRequest[]): string[] {
    const eotId = firstId(this.tokenizer.eosTokenId);
    const eos = eotId === undefined ? undefined : this.tokenizer.decode([eotId]);
    const encoded = requests.map((request) => this.encode(request.context));
    // Collator order: longest context first, then by text; one gen-kwargs group at a time.
    const order = requests.map((_, index) => index).sort((a, b) => encoded[b].length - encoded[a].length || (requests[a].context < requests[b].context ? -1 : requests[a].context > requests[b].context ? 1 : 0));
    const results: string[] = new Array(requests.length);
    let done = 0;
    const groups = new Map<string, number[]>();
    for (const index of order) {
      const key = JSON.stringify(requests[index].kwargs);
      groups.set(key, [...(groups.get(key) ?? []), index]);
    }
    for (const indices of groups.values()) {
      const { until, options, maxGenToks } = this.#generationSettings(requests[indices[0]].kwargs, eos);
      for (let start = 0; start < indices.length; start += this.batchSize) {
        const chunk = indices.slice(start, start + this.batchSize);
        const limit = this.backend === 'causal' ? this.maxLength - maxGenToks : this.maxLength;
        if (limit <= 0) throw new TunekitError(HARNESS_MODEL_ERROR, `max_gen_toks ${maxGenToks} leaves no room for the context in the model's ${this.maxLength} tokens`);
        const rows = chunk.map((index) => encoded[index].slice(-limit));
        const width = Math.max(...rows.map((row) => row.length));
        const pad = this.tokenizer.padTokenId ?? this.model.config.padTokenId ?? eotId ?? 0;
        const inputIds = rows.map((row) => [...new Array(width - row.length).fill(pad), ...row]);
        const attentionMask = rows.map((row) => [...new Array(width - row.length).fill(0), ...row.map(() => 1)]);
        // Left padding for both kinds, as HFLM.tok_batch_encode; transformers' max_length counts a seq2seq
        // decoder's start token and is the padded context length plus max_gen_toks.
        const maxNewTokens = this.backend === 'causal' ? maxGenToks : width + maxGenToks - 1;
        const output = generate(this.model, { inputIds, attentionMask }, {
          ...options,
          maxNewTokens,
          stopStrings: until.filter((stop) => stop !== ''),
          decode: (ids) => this.tokenizer.decode(ids, { skipSpecialTokens: true }),
        });
        chunk.forEach((index, row) => {
          const sequence = output.sequences[row];
          const generated = this.backend === 'causal' ? sequence.slice(width) : sequence;
          let text = this.tokenizer.decode(generated, { skipSpecialTokens: true });
          for (const stop of until) if (stop.length > 0) text = text.split(stop)[0];
          results[index] = text;
        });
        done += chunk.length;
        this.progress?.(done, requests.length);
      }
    }
    return results;
  }

  #generationSettings(kwargs: Record<string, unknown>, eos: string | undefined): { until: string[]; options: GenerationOptions; maxGenToks: number } {
    const { until: untilValue, max_gen_toks, max_new_tokens, do_sample, temperature, ...rest } = kwargs;
    const until = untilValue === undefined || untilValue === null ? [] : typeof untilValue === 'string' ? [untilValue] : [...(untilValue as string[])];
    if (eos !== undefined && !until.includes(eos)) until.push(eos);
    const maxGenToks = (max_gen_toks ?? max_new_tokens ?? DEFAULT_MAX_GEN_TOKS) as number;
    if (!Number.isInteger(maxGenToks) || maxGenToks < 1) throw new TunekitError(HARNESS_MODEL_ERROR, `max_gen_toks must be a positive integer, got ${JSON.stringify(maxGenToks)}`);
    const sampling = do_sample === true || (do_sample === undefined && typeof temperature === 'number' && temperature > 0);
    if (sampling) throw new TunekitError(HARNESS_MODEL_ERROR, 'generation_kwargs asks for sampling (do_sample / temperature > 0); tunekit eval decodes greedily only');
    const { doSample: _doSample, temperature: _temperature, topK: _topK, topP: _topP, numReturnSequences: _n, maxNewTokens: _max, ...defaults } = this.#generationDefaults;
    const options: GenerationOptions = { ...defaults, doSample: false };
    for (const [key, value] of Object.entries(rest)) {
      const name = GENERATION_KWARGS[key];
      if (name === undefined || typeof value !== 'number') throw new TunekitError(HARNESS_MODEL_ERROR, `generation_kwargs.${key} is not supported (tunekit reads until, max_gen_toks, do_sample, temperature, ${Object.keys(GENERATION_KWARGS).join(', ')})`);
      (options as Record<string, unknown>)[name] = value;
    }
    return { until, options, maxGenToks };
  }
}
