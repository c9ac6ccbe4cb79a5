import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import type { KVCache } from './kv-cache.js';

/** What every language model tells about its vocabulary and special tokens. */
export interface LanguageModelConfig {
  readonly modelType: string;
  readonly vocabSize: number;
  readonly eosTokenIds: number[];
  readonly padTokenId: number | null;
  /** Decoder-only models: the tokens a sequence may start with. */
  readonly bosTokenIds?: number[];
  /** Encoder-decoder models: the first decoder token. */
  readonly decoderStartTokenId?: number;
}

/** Where a loaded model came from. */
export interface ModelSource {
  /** What the user asked for: a hub repo id or a folder (transformers' `name_or_path`). */
  id: string;
  /** The local folder read (a hub snapshot inside the cache for repo ids). */
  dir: string;
  /** config.json as loaded (a saved checkpoint's untie applied). */
  config: Record<string, unknown>;
  /** generation_config.json, when the folder has one. */
  generationConfig: Record<string, unknown> | null;
}

/** A batch as training and evaluation hand it to a model: token ids, with labels for a loss. */
export interface Batch {
  inputIds: number[][] | Tensor;
  attentionMask?: number[][] | Tensor;
  /** Causal: same shape as inputIds, -100 where no loss; seq2seq: the target ids with -100 padding. */
  labels?: number[][] | Tensor;
  /** Seq2seq: decoder inputs (default: labels shifted right). */
  decoderInputIds?: number[][] | Tensor;
  /**
   * Causal only: position ids [batch, length]. Without an attentionMask, a row whose positions restart (a padding-free
   * packed row, collateLanguageModeling's paddingFree) gets a block-diagonal causal mask, as transformers builds it.
   */
  positionIds?: number[][] | Tensor;
}

export interface CausalForwardOptions {
  /** [batch, past + length]: 1 for real tokens, 0 for padding (past positions included). */
  attentionMask?: Tensor | null;
  /**
   * [batch, length]; defaults to past…past+length-1. Given without attentionMask and cache, positions that restart
   * mark packed sequences, which then attend only within themselves.
   */
  positionIds?: Tensor;
  cache?: KVCache;
  /** Use these input embeddings [batch, length, hidden] instead of looking up ids (soft prompts). */
  inputsEmbeds?: Tensor;
  /** Compute logits for the last position only (generation). */
  lastOnly?: boolean;
  /**
   * int64 [n]: indices into the flattened [batch × length] positions (a soft prompt's virtual positions included)
   * whose outputs are wanted; the result is [n, vocab] (training: only supervised positions reach the head).
   */
  outputPositions?: Tensor;
  /** Return the final hidden states (at outputPositions when given) instead of logits: the caller applies the head. */
  headless?: boolean;
}

export interface EncoderOptions {
  attentionMask?: Tensor | null;
  inputsEmbeds?: Tensor;
}

export interface DecoderOptions {
  encoderHidden: Tensor;
  encoderMask?: Tensor | null;
  cache?: KVCache;
  lastOnly?: boolean;
}

/**
 * Module's API with the methods that return `this` typed as returning a Module, so that a wrapper whose kind is
 * known only at run time (a PeftModel) is still assignable to the kind-discriminated LanguageModel.
 */
interface ModuleSurface extends Omit<Module, 'train' | 'eval' | 'freeze' | 'unfreeze' | 'to'> {
  train(mode?: boolean): Module;
  eval(): Module;
  freeze(patterns?: Parameters<Module['freeze']>[0]): Module;
  unfreeze(patterns?: Parameters<Module['unfreeze']>[0]): Module;
  to(target: Parameters<Module['to']>[0]): Module;
}

/** What every model offers, with or without adapters: token embeddings, batch logits and the training loss. */
interface ModelInterface extends ModuleSurface {
  readonly config: LanguageModelConfig;
  /** The longest sequence (prompt and generated tokens) its positions cover; null where positions are relative. */
  readonly contextLength: number | null;
  /** Where the model was loaded from (null for a model built in code); saving writes its config back. */
  source: ModelSource | null;
  /** Token embeddings [batch, length, hidden]: what `inputsEmbeds` replaces. */
  embedTokens(ids: Tensor): Tensor;
  /** Logits [batch, length, vocab] of a batch (seq2seq: decoder positions; with a soft prompt, its positions first). */
  logits(batch: Batch): Tensor;
  /** Mean cross-entropy over the labels that are not -100 (causal: next-token, labels aligned with the inputs). */
  loss(batch: Batch): Tensor;
}

/** A decoder-only language model (Llama family, GPT-2). */
export interface CausalLM extends ModelInterface {
  readonly kind: 'causal';
  forward(inputIds: Tensor | null, options?: CausalForwardOptions): Tensor;
}

/** An encoder-decoder language model (T5 family). */
export interface Seq2SeqLM extends ModelInterface {
  readonly kind: 'seq2seq';
  encode(inputIds: Tensor | null, options?: EncoderOptions): Tensor;
  decode(decoderInputIds: Tensor, options: DecoderOptions): Tensor;
  forward(inputIds: Tensor | null, options: EncoderOptions & { decoderInputIds: Tensor }): Tensor;
}

/**
 * The one model interface: every architecture implements it, and so does a PeftModel wrapping one, so generation,
 * training, evaluation and serving take either without asking which.
 */
export type LanguageModel = CausalLM | Seq2SeqLM;

/** The token a seq2seq decoder starts from. */
export function decoderStartToken(model: Seq2SeqLM): number {
  const start = model.config.decoderStartTokenId;
  return start ?? model.config.padTokenId ?? 0;
}
