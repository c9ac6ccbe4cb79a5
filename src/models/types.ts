import type { Module } from '../nn/module.js';
import type { Tensor } from '../torch/tensor.js';
import type { KVCache } from './kv-cache.js';

export interface CausalForwardOptions {
  /** [batch, past + length]: 1 for real tokens, 0 for padding (past positions included). */
  attentionMask?: Tensor | null;
  /** [batch, length]; defaults to past…past+length-1. */
  positionIds?: Tensor;
  cache?: KVCache;
  /** Use these input embeddings [batch, length, hidden] instead of looking up ids (soft prompts). */
  inputsEmbeds?: Tensor;
  /** Compute logits for the last position only (generation). */
  lastOnly?: boolean;
}

/** A decoder-only language model (Llama family, GPT-2). */
export interface CausalLM extends Module {
  readonly kind: 'causal';
  readonly config: { vocabSize: number; eosTokenIds: number[]; bosTokenIds: number[]; padTokenId: number | null; modelType: string };
  forward(inputIds: Tensor | null, options?: CausalForwardOptions): Tensor;
  embedTokens(ids: Tensor): Tensor;
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

/** An encoder-decoder language model (T5 family). */
export interface Seq2SeqLM extends Module {
  readonly kind: 'seq2seq';
  readonly config: { vocabSize: number; eosTokenIds: number[]; padTokenId: number | null; decoderStartTokenId: number; modelType: string };
  encode(inputIds: Tensor | null, options?: EncoderOptions): Tensor;
  decode(decoderInputIds: Tensor, options: DecoderOptions): Tensor;
  forward(inputIds: Tensor | null, options: EncoderOptions & { decoderInputIds: Tensor }): Tensor;
  embedTokens(ids: Tensor): Tensor;
}

export type LanguageModel = CausalLM | Seq2SeqLM;
