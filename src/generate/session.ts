import { KVCache } from '../models/kv-cache.js';
import { positionsFromMask } from '../models/attention.js';
import { type CausalLM, decoderStartToken, type LanguageModel, type Seq2SeqLM } from '../models/types.js';
import { cat, ones, tensor } from '../torch/ops.js';
import { Tensor, tidy } from '../torch/tensor.js';

/**
 * One batch being decoded token by token with a KV cache. `start()` and `step()` return next-token logits
 * [rows, vocab] in float32; `select()` keeps and reorders rows (beam search). Tensors it returns belong to the
 * caller's scope; its own state it keeps until `dispose()`.
 */
export interface DecodingSession {
  start(): Tensor;
  step(tokens: number[]): Tensor;
  select(rows: number[]): void;
  dispose(): void;
}

function keep(tensor: Tensor | null): Tensor | null {
  return tensor === null ? null : tensor.keep();
}

class CausalSession implements DecodingSession {
  readonly #cache = new KVCache();
  #mask: Tensor | null;
  #nextPositions: Tensor | null;
  readonly #inputIds: Tensor;

  constructor(
    private readonly model: CausalLM,
    inputIds: number[][],
    attentionMask: number[][] | undefined,
    private readonly inputsEmbeds?: Tensor,
  ) {
    this.#inputIds = tensor(inputIds, { dtype: 'int64' }).keep();
    const padded = attentionMask !== undefined && attentionMask.some((row) => row.some((v) => v === 0));
    this.#mask = padded ? tensor(attentionMask, { dtype: 'int64' }).keep() : null;
    this.#nextPositions = null;
  }

  start(): Tensor {
    return tidy(() => {
      const positionIds = this.#mask === null ? undefined : positionsFromMask(this.#mask);
      if (positionIds !== undefined) {
        this.#nextPositions = positionIds.narrow(1, positionIds.shape[1] - 1, 1).add(1).keep();
      }
      const logits = this.model.forward(this.inputsEmbeds === undefined ? this.#inputIds : null, {
        attentionMask: this.#mask,
        positionIds,
        inputsEmbeds: this.inputsEmbeds,
        cache: this.#cache,
        lastOnly: true,
      });
      return logits.squeeze(1).float();
    });
  }

  step(tokens: number[]): Tensor {
    return tidy(() => {
      const ids = tensor(tokens, { dtype: 'int64', shape: [tokens.length, 1] });
      let positionIds: Tensor | undefined;
      if (this.#mask !== null) {
        const grown = cat([this.#mask, ones([tokens.length, 1], { dtype: 'int64' })], 1).keep();
        this.#mask.dispose();
        this.#mask = grown;
        positionIds = this.#nextPositions as Tensor;
        const next = positionIds.add(1).keep();
        this.#nextPositions = next;
      }
      const logits = this.model.forward(ids, { attentionMask: this.#mask, positionIds, cache: this.#cache, lastOnly: true });
      positionIds?.dispose();
      return logits.squeeze(1).float();
    });
  }

  select(rows: number[]): void {
    tidy(() => {
      const index = tensor(rows, { dtype: 'int64' });
      this.#cache.select(index);
      if (this.#mask !== null) {
        const mask = this.#mask.indexSelect(0, index).keep();
        this.#mask.dispose();
        this.#mask = mask;
      }
      if (this.#nextPositions !== null) {
        const positions = this.#nextPositions.indexSelect(0, index).keep();
        this.#nextPositions.dispose();
        this.#nextPositions = positions;
      }
      return undefined;
    });
  }

  dispose(): void {
    this.#cache.dispose();
    this.#mask?.dispose();
    this.#nextPositions?.dispose();
    this.#inputIds.dispose();
  }
}

class Seq2SeqSession implements DecodingSession {
  readonly #cache = new KVCache();
  readonly #encoderHidden: Tensor;
  readonly #encoderMask: Tensor | null;

  constructor(
    private readonly model: Seq2SeqLM,
    inputIds: number[][],
    attentionMask: number[][] | undefined,
    private readonly decoderStart: number[][],
    inputsEmbeds?: Tensor,
  ) {
    const ids = tensor(inputIds, { dtype: 'int64' });
    this.#encoderMask = attentionMask === undefined ? null : keep(tensor(attentionMask, { dtype: 'int64' }));
    this.#encoderHidden = tidy(() => model.encode(inputsEmbeds === undefined ? ids : null, { attentionMask: this.#encoderMask, inputsEmbeds })).keep();
    ids.dispose();
  }

  start(): Tensor {
    return tidy(() => {
      const ids = tensor(this.decoderStart, { dtype: 'int64' });
      return this.model.decode(ids, { encoderHidden: this.#encoderHidden, encoderMask: this.#encoderMask, cache: this.#cache, lastOnly: true }).squeeze(1).float();
    });
  }

  step(tokens: number[]): Tensor {
    return tidy(() => {
      const ids = tensor(tokens, { dtype: 'int64', shape: [tokens.length, 1] });
      return this.model.decode(ids, { encoderHidden: this.#encoderHidden, encoderMask: this.#encoderMask, cache: this.#cache, lastOnly: true }).squeeze(1).float();
    });
  }

  select(rows: number[]): void {
    // Rows only move within the same input's beams, whose encoder outputs are identical, so the encoder state
    // needs no reordering; the cache does (cross-attention entries are equal across those rows as well).
    tidy(() => {
      this.#cache.select(tensor(rows, { dtype: 'int64' }));
      return undefined;
    });
  }

  dispose(): void {
    this.#cache.dispose();
    this.#encoderHidden.dispose();
    this.#encoderMask?.dispose();
  }
}

export interface SessionInputs {
  inputIds: number[][];
  attentionMask?: number[][];
  /** Seq2seq: the decoder prefix per row (usually [[decoder_start]]). */
  decoderInputIds?: number[][];
  /** Replaces the token embeddings of the prompt (prompt tuning); rows must match inputIds. */
  inputsEmbeds?: Tensor;
}

export function openSession(model: LanguageModel, inputs: SessionInputs): DecodingSession {
  if (model.kind === 'causal') return new CausalSession(model, inputs.inputIds, inputs.attentionMask, inputs.inputsEmbeds);
  const starts = inputs.decoderInputIds ?? inputs.inputIds.map(() => [decoderStartToken(model)]);
  return new Seq2SeqSession(model, inputs.inputIds, inputs.attentionMask, starts, inputs.inputsEmbeds);
}
