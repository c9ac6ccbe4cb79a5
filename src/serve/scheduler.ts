import { processLogits } from '../generate/logits.js';
import { resolveGenerationOptions, type ResolvedGenerationOptions } from '../generate/options.js';
import { openSession, type DecodingSession } from '../generate/session.js';
import { padRows } from '../generate/padding.js';
import type { CausalLM, LanguageModel } from '../models/types.js';
import type { PeftModel } from '../peft/peft-model.js';
import type { Decoding } from '../tokenize/decode-stream.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { inferenceMode, manualSeed, memory } from '../torch/runtime.js';
import { cat, tensor } from '../torch/ops.js';
import { type Tensor, tidy } from '../torch/tensor.js';
import { ApiError } from './api-error.js';
import { ChoiceText } from './choice-text.js';
import { JoinableSession } from './joinable-session.js';
import type { ChoiceDelta, FinishReason, JobRequest, TokenLogprob } from './messages.js';
import { preparePrompts } from './prompts.js';

/** Where a model's positions are relative (T5) and a request sets no max_tokens, a choice ends after this many. */
export const UNBOUNDED_CONTEXT_MAX_TOKENS = 512;

export interface SchedulerEvents {
  started(id: number, promptTokens: number): void;
  deltas(id: number, deltas: ChoiceDelta[]): void;
  done(id: number, completionTokens: number): void;
  failed(id: number, error: ApiError): void;
  /** After each batch step: its rows, its time, and the tensors alive in the worker after it. */
  step(rows: number, durationMs: number, liveTensors: number): void;
}

interface Job {
  request: JobRequest;
  promptIds: number[][];
  sampling: ResolvedGenerationOptions | null;
  rowsLeft: number;
  completionTokens: number;
  cancelled: boolean;
}

interface Row {
  job: Job;
  index: number;
  promptIds: number[];
  generated: number;
  budget: number;
  text: ChoiceText;
  /** Ended (fixed batches keep such rows, fed padding, as `generate()` does). */
  finished: boolean;
}

/**
 * Rows decoded together. Greedy and unseeded sampling rows of a decoder-only model share a joinable batch that
 * requests enter and leave between steps: the base and all LoRA adapters one batch, each other kind of adapter
 * its own. Seeded sampling, seq2seq models and soft prompts get a fixed batch of their own (a `generate()` session).
 */
interface Batch {
  joinable: JoinableSession | null;
  session: DecodingSession | null;
  rows: Row[];
  /** Rows admitted since the last step: prefilled, then appended, at the next step (joinable batches). */
  joining: Row[];
  /** The adapter of every row (null: none); or, for a batch whose rows each have their own LoRA adapter, '*'. */
  adapter: string | null;
  sampling: ResolvedGenerationOptions | null;
  seed: number | undefined;
  lastTokens: number[] | null;
}

/** The batch key of rows that apply their LoRA adapter (or none) per row: one batch for them all. */
const PER_ROW = '*';


/**
 * A token drawn from `probabilities` with JavaScript's generator: unseeded sampling rows of a shared batch leave
 * libtorch's generator untouched, so a seeded request decoding beside them draws exactly what it would alone.
 */
function drawToken(probabilities: number[]): number {
  let remaining = Math.random() * probabilities.reduce((sum, p) => sum + p, 0);
  for (let token = 0; token < probabilities.length; token++) {
    remaining -= probabilities[token];
    if (remaining < 0 && probabilities[token] > 0) return token;
  }
  return probabilities.reduce((best, p, token) => (p > probabilities[best] ? token : best), 0);
}

/** Without a tokenizer (token-id prompts only) choices carry ids and no text. */
const NO_TEXT: Decoding = { decode: () => '' };

function utf8(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
}

/**
 * Decodes every admitted request one token per step. Pending requests are admitted between steps while the
 * rows decoding stay within `maxBatch` (continuous batching): a greedy or unseeded sampling request joins a running batch
 * (left-padded, positions counted per row, so each row is what it would be alone) — one batch for the base and
 * every LoRA adapter, each applied to its own rows, and one per adapter of other kinds (unseeded rows draw with
 * JavaScript's generator); a seeded request is its own batch and never runs beside another sampling batch, so
 * its draws from libtorch's generator are exactly those `generate()` makes. Rows leave their batch as soon as they finish or their request is
 * cancelled. Batches take turns, one step each.
 */
export class Scheduler {
  readonly #pending: Job[] = [];
  readonly #batches: Batch[] = [];
  readonly #jobs = new Map<number, Job>();
  #scheduled = false;

  constructor(
    private readonly model: PeftModel,
    private readonly tokenizer: Tokenizer | null,
    private readonly eosTokenIds: number[],
    private readonly maxBatch: number,
    private readonly events: SchedulerEvents,
  ) {}

  /** Whether any request (pending or decoding) uses the adapter. */
  uses(adapter: string): boolean {
    return [...this.#jobs.values()].some((job) => job.request.adapter === adapter);
  }

  submit(request: JobRequest): void {
    let job: Job;
    try {
      job = this.prepare(request);
    } catch (error) {
      this.events.failed(request.id, error instanceof ApiError ? error : new ApiError(400, (error as Error).message, request.promptField));
      return;
    }
    this.#jobs.set(request.id, job);
    this.#pending.push(job);
    this.schedule();
  }

  cancel(id: number): void {
    const job = this.#jobs.get(id);
    if (job === undefined) return;
    job.cancelled = true;
    const waiting = this.#pending.indexOf(job);
    if (waiting >= 0) {
      this.#pending.splice(waiting, 1);
      this.#jobs.delete(id);
    }
  }

  private contextLength(adapter: string | null): number | null {
    return this.model.withAdapter(adapter, () => this.model.contextLength);
  }

  private prepare(request: JobRequest): Job {
    const promptIds = preparePrompts(request, this.tokenizer, this.model.config.vocabSize, this.model.kind);
    const context = this.model.kind === 'causal' ? this.contextLength(request.adapter) : null;
    const { maxTokens } = request.params;
    if (context === null && maxTokens !== null && maxTokens > UNBOUNDED_CONTEXT_MAX_TOKENS) {
      throw new ApiError(400, `this model's positions are relative (no fixed context); this server generates at most ${UNBOUNDED_CONTEXT_MAX_TOKENS} tokens per choice for it`, 'max_tokens', 'max_tokens_too_large');
    }
    for (const ids of promptIds) {
      if (context === null) continue;
      if (ids.length >= context) {
        throw new ApiError(400, `This model's maximum context length is ${context} tokens; the ${request.promptField} has ${ids.length}, leaving no room for a completion.`, request.promptField, 'context_length_exceeded');
      }
      if (maxTokens !== null && ids.length + maxTokens > context) {
        throw new ApiError(400, `This model's maximum context length is ${context} tokens. However, you requested ${ids.length + maxTokens} tokens (${ids.length} in the ${request.promptField}, ${maxTokens} in the completion). Please reduce the length of the ${request.promptField} or max_tokens.`, 'max_tokens', 'context_length_exceeded');
      }
    }
    const { temperature, topP, seed } = request.params;
    const sampling = temperature > 0 && topP > 0 ? resolveGenerationOptions({ doSample: true, temperature, topP, seed }, { eosTokenIds: this.eosTokenIds, padTokenId: null }) : null;
    return { request, promptIds, sampling, rowsLeft: promptIds.length * request.params.n, completionTokens: 0, cancelled: false };
  }

  private schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate lets the worker read its messages (new requests, cancels) between steps.
    setImmediate(() => {
      this.#scheduled = false;
      this.tick();
      if (this.#batches.length > 0 || this.#pending.length > 0) this.schedule();
    });
  }

  private activeRows(): number {
    return this.#batches.reduce((sum, batch) => sum + batch.rows.length + batch.joining.length, 0);
  }

  /** Fixed sampling batches draw from libtorch's generator: a seeded one runs beside no other. */
  private canStartSampling(job: Job): boolean {
    const running = this.#batches.filter((batch) => batch.sampling !== null);
    return running.length === 0 || (job.request.params.seed === undefined && running.every((batch) => batch.seed === undefined));
  }

  /** Moves pending jobs into batches while rows are free, oldest first. */
  private admit(): void {
    let rows = this.activeRows();
    for (const job of [...this.#pending]) {
      if (rows > 0 && rows + job.rowsLeft > this.maxBatch) break;
      const adapter = job.request.adapter;
      // Greedy and unseeded sampling rows join a running batch; a seeded request keeps a batch of its own.
      const causal = job.request.params.seed === undefined ? this.joinableModel(adapter) : null;
      if (causal === null && job.sampling !== null && !this.canStartSampling(job)) continue;
      this.#pending.splice(this.#pending.indexOf(job), 1);
      rows += job.rowsLeft;
      const newRows = this.rowsOf(job);
      if (causal !== null) {
        const key = adapter === null || this.model.appliesPerRow(adapter) ? PER_ROW : adapter;
        let batch = this.#batches.find((candidate) => candidate.joinable !== null && candidate.adapter === key);
        if (batch === undefined) {
          batch = { joinable: new JoinableSession(causal), session: null, rows: [], joining: [], adapter: key, sampling: null, seed: undefined, lastTokens: null };
          this.#batches.push(batch);
        }
        batch.joining.push(...newRows);
      } else {
        this.#batches.push({ joinable: null, session: this.openFixed(newRows, adapter), rows: newRows, joining: [], adapter, sampling: job.sampling, seed: job.request.params.seed, lastTokens: null });
      }
    }
  }

  /**
   * Rows can join a running batch on decoder-only models, unless a soft prompt takes the first positions or the
   * attention has a sliding window (it counts cache columns, padding included, so a padded row would see less).
   */
  private joinableModel(adapter: string | null): CausalLM | null {
    const model: LanguageModel = this.model;
    if (model.kind !== 'causal') return null;
    const window = (model.config as { slidingWindow?: number | null }).slidingWindow;
    if (window !== undefined && window !== null) return null;
    return adapter === null || this.model.adapterConfig(adapter).peftType !== 'PROMPT_TUNING' ? model : null;
  }

  /** The rows of a job (prompts × n, choice index = prompt × n + choice), announcing it started. */
  private rowsOf(job: Job): Row[] {
    const context = this.contextLength(job.request.adapter);
    const { n, maxTokens, stop } = job.request.params;
    const rows: Row[] = [];
    job.promptIds.forEach((promptIds, prompt) => {
      const room = context === null ? UNBOUNDED_CONTEXT_MAX_TOKENS : context - promptIds.length;
      const budget = Math.min(maxTokens ?? room, room);
      for (let choice = 0; choice < n; choice++) {
        rows.push({ job, index: prompt * n + choice, promptIds, generated: 0, budget, text: this.choiceText(promptIds, stop), finished: false });
      }
    });
    this.events.started(job.request.id, job.promptIds.reduce((sum, ids) => sum + ids.length, 0));
    return rows;
  }

  /** A `generate()` session over the rows: left-padded for decoder-only models, right-padded for encoders. */
  private openFixed(rows: Row[], adapter: string | null): DecodingSession {
    const pad = this.padTokenId;
    const prompts = rows.map((row) => row.promptIds);
    const sameLength = prompts.every((ids) => ids.length === prompts[0].length);
    const inputs = sameLength ? { inputIds: prompts } : padRows(prompts, pad, this.model.kind === 'causal' ? 'left' : 'right');
    return this.model.withAdapter(adapter, () => openSession(this.model, inputs));
  }

  private choiceText(promptIds: number[], stop: string[]): ChoiceText {
    return new ChoiceText(this.tokenizer ?? NO_TEXT, this.model.kind === 'causal' ? promptIds : [], stop);
  }

  private tick(): void {
    this.admit();
    for (const batch of [...this.#batches]) {
      const started = performance.now();
      const rows = batch.rows.length;
      try {
        inferenceMode(() => this.step(batch));
      } catch (error) {
        this.abort(batch, error as Error);
      }
      this.events.step(rows, performance.now() - started, memory().liveTensors);
    }
  }

  private abort(batch: Batch, error: Error): void {
    this.#batches.splice(this.#batches.indexOf(batch), 1);
    this.disposeBatch(batch);
    for (const job of new Set([...batch.rows, ...batch.joining].map((row) => row.job))) {
      this.#jobs.delete(job.request.id);
      if (!job.cancelled) this.events.failed(job.request.id, new ApiError(500, `generation failed: ${error.message}`));
    }
  }

  /** Next-token logits of every row; rows that joined since the last step are prefilled and become the last rows. */
  private nextLogits(batch: Batch): Tensor {
    const joinable = batch.joinable;
    if (joinable !== null && batch.adapter === PER_ROW) {
      const adapters = (rows: Row[]) => rows.map((row) => row.job.request.adapter);
      const logits = tidy(() => {
        const parts: Tensor[] = [];
        if (batch.rows.length > 0) parts.push(this.model.withRowAdapters(adapters(batch.rows), () => joinable.step(batch.lastTokens as number[])));
        if (batch.joining.length > 0) parts.push(this.model.withRowAdapters(adapters(batch.joining), () => joinable.join(batch.joining.map((row) => row.promptIds))));
        return parts.length === 1 ? parts[0] : cat(parts, 0);
      });
      batch.rows = [...batch.rows, ...batch.joining];
      batch.joining = [];
      return logits;
    }
    if (joinable !== null) {
      const logits = joinable.advance(batch.rows.length > 0 ? batch.lastTokens : null, batch.joining.map((row) => row.promptIds));
      batch.rows = [...batch.rows, ...batch.joining];
      batch.joining = [];
      return logits;
    }
    const session = batch.session as DecodingSession;
    return batch.lastTokens === null ? session.start() : session.step(batch.lastTokens);
  }

  private disposeBatch(batch: Batch): void {
    batch.joinable?.dispose();
    batch.session?.dispose();
  }

  /** One token for every row of the batch. */
  private step(batch: Batch): void {
    if (batch.adapter !== PER_ROW && this.model.activeAdapter !== batch.adapter) this.model.setAdapter(batch.adapter);
    const logits = this.nextLogits(batch);
    if (batch.lastTokens === null && batch.sampling !== null && batch.seed !== undefined) manualSeed(batch.seed);
    const alternatives = Math.max(0, ...batch.rows.map((row) => row.job.request.params.logprobs ?? 0));
    const wantLogprobs = batch.rows.some((row) => row.job.request.params.logprobs !== null);
    const picked = tidy(() => {
      const sampling = batch.sampling;
      let chosen = sampling === null ? logits.argmax(-1) : processLogits(logits, [], 0, sampling, true).softmax(-1).multinomial(1).squeeze(1);
      let tokens = chosen.toFlatArray();
      if (batch.joinable !== null && batch.rows.some((row) => row.job.sampling !== null)) {
        tokens = tokens.map((token, r) => {
          const rowSampling = batch.rows[r].job.sampling;
          return rowSampling === null ? token : drawToken(processLogits(logits.narrow(0, r, 1), [], 0, rowSampling, true).softmax(-1).toFlatArray());
        });
        chosen = tensor(tokens, { dtype: 'int64' });
      }
      if (!wantLogprobs) return { tokens, chosenLogprobs: [] as number[], topValues: [] as number[], topIndices: [] as number[] };
      const logprobs = logits.logSoftmax(-1);
      const chosenLogprobs = logprobs.gather(1, chosen.unsqueeze(1)).toFlatArray();
      if (alternatives === 0) return { tokens, chosenLogprobs, topValues: [], topIndices: [] };
      const top = logprobs.topk(alternatives, 1);
      return { tokens, chosenLogprobs, topValues: top.values.toFlatArray(), topIndices: top.indices.toFlatArray() };
    });
    (logits as Tensor).dispose();
    const perJob = new Map<Job, ChoiceDelta[]>();
    const keep: number[] = [];
    batch.rows.forEach((row, r) => {
      if (row.job.cancelled || row.finished) return;
      const tokenId = picked.tokens[r];
      const requested = row.job.request.params.logprobs;
      const logprob = requested === null ? undefined : this.logprob(row, tokenId, picked.chosenLogprobs[r], picked.topValues, picked.topIndices, r * alternatives, requested);
      row.generated++;
      row.job.completionTokens++;
      let finishReason: FinishReason | undefined;
      let text: string;
      if (this.eosTokenIds.includes(tokenId)) {
        text = row.text.finish();
        finishReason = 'stop';
      } else {
        const pushed = row.text.push(tokenId);
        text = pushed.text;
        if (pushed.stopped) finishReason = 'stop';
        else if (row.generated >= row.budget) {
          text += row.text.finish();
          finishReason = 'length';
        }
      }
      const delta: ChoiceDelta = { index: row.index, tokenId, text };
      if (logprob !== undefined) delta.logprob = logprob;
      if (finishReason !== undefined) delta.finishReason = finishReason;
      perJob.set(row.job, [...(perJob.get(row.job) ?? []), delta]);
      if (finishReason === undefined) keep.push(r);
      else row.finished = true;
    });
    for (const [job, deltas] of perJob) this.events.deltas(job.request.id, deltas);
    for (const job of new Set(batch.rows.map((row) => row.job))) {
      job.rowsLeft = keep.filter((r) => batch.rows[r].job === job).length;
      if (job.rowsLeft === 0 && this.#jobs.has(job.request.id)) {
        this.#jobs.delete(job.request.id);
        if (!job.cancelled) this.events.done(job.request.id, job.completionTokens);
      }
    }
    if (keep.length === 0) {
      this.disposeBatch(batch);
      this.#batches.splice(this.#batches.indexOf(batch), 1);
      return;
    }
    if (batch.joinable === null) {
      // A fixed batch keeps every row to the end, padding the finished ones, as generate() does: a seeded
      // sampler then draws for the same rows, and a T5 session's encoder rows stay aligned with its cache.
      batch.lastTokens = batch.rows.map((_, r) => (keep.includes(r) ? picked.tokens[r] : this.padTokenId));
      return;
    }
    if (keep.length < batch.rows.length) batch.joinable.select(keep);
    batch.rows = keep.map((r) => batch.rows[r]);
    batch.lastTokens = keep.map((r) => picked.tokens[r]);
  }

  /** The padding a fixed batch feeds its finished rows (generate()'s default pad). */
  private get padTokenId(): number {
    return this.model.config.padTokenId ?? this.eosTokenIds[0] ?? 0;
  }

  private logprob(row: Row, tokenId: number, chosen: number, values: number[], indices: number[], offset: number, count: number): TokenLogprob {
    const name = (id: number): string => (row.job.request.params.tokensAsIds ? `token_id:${id}` : row.text.tokenText(id));
    const token = name(tokenId);
    const top = [];
    for (let k = 0; k < count; k++) {
      const alternative = name(indices[offset + k]);
      top.push({ token: alternative, bytes: utf8(alternative), logprob: values[offset + k] });
    }
    return { token, bytes: utf8(token), logprob: chosen, top };
  }
}
