import { TunekitError } from '../errors.js';
import { ModuleList } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Embedding, type LayerOptions, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { arange, fullLike, where, zeros } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';
import { activationByName, type Activation } from './activations.js';
import { additiveMask } from './attention.js';
import { fail, optionalBoolean, optionalPositiveNumber, optionalSize, optionalString, optionalTokenIds, type RawConfig, requireSize } from './config.js';
import { KVCache } from './kv-cache.js';
import { HFRMSNorm } from './norms.js';
import { PretrainedModel } from './base.js';
import type { DecoderOptions, EncoderOptions, Seq2SeqLM } from './types.js';
import type { WeightExpectation } from './weights-check.js';

export interface T5Config {
  modelType: string;
  vocabSize: number;
  dModel: number;
  dKv: number;
  dFf: number;
  numLayers: number;
  numDecoderLayers: number;
  numHeads: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  layerNormEpsilon: number;
  /** `feed_forward_proj`: "relu" (classic T5) or "gated-gelu" (T5 v1.1, FLAN-T5), "gated-silu", … */
  gated: boolean;
  activation: string;
  tieWordEmbeddings: boolean;
  /** Multiply decoder outputs by d_model^-0.5 before the head (classic tied T5); transformers 5 stores it apart from the tie. */
  scaleDecoderOutputs: boolean;
  eosTokenIds: number[];
  padTokenId: number | null;
  decoderStartTokenId: number;
  source: string;
}

export function parseT5Config(raw: RawConfig): T5Config {
  const feedForward = optionalString(raw, 'feed_forward_proj', 'relu');
  const parts = feedForward.split('-');
  const gated = parts[0] === 'gated';
  if ((gated && parts.length !== 2) || (!gated && parts.length !== 1)) {
    throw new TunekitError('E_CONFIG', `${raw.source}: "feed_forward_proj" must be "{ACT}" or "gated-{ACT}", found "${feedForward}"`);
  }
  // transformers maps "gated-gelu" to gelu_new for backward compatibility.
  const activation = feedForward === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  activationByName(activation, raw.source);
  const vocabSize = requireSize(raw, 'vocab_size');
  const numLayers = requireSize(raw, 'num_layers');
  const numBuckets = optionalSize(raw, 'relative_attention_num_buckets', 32);
  // Bidirectional buckets split in half and then in half again: fewer than 4 leaves no exact bucket.
  if (numBuckets < 4) fail(raw, 'relative_attention_num_buckets', 'a whole number ≥ 4');
  const maxDistance = optionalSize(raw, 'relative_attention_max_distance', 128);
  // The logarithmic buckets divide by log(max_distance / exact buckets), which must be positive.
  if (maxDistance <= Math.floor(numBuckets / 2)) fail(raw, 'relative_attention_max_distance', `greater than relative_attention_num_buckets / 2 (${Math.floor(numBuckets / 2)})`);
  const pad = optionalTokenIds(raw, 'pad_token_id', vocabSize);
  const decoderStart = optionalTokenIds(raw, 'decoder_start_token_id', vocabSize);
  return {
    modelType: optionalString(raw, 'model_type', 't5'),
    vocabSize,
    dModel: requireSize(raw, 'd_model'),
    dKv: requireSize(raw, 'd_kv'),
    dFf: requireSize(raw, 'd_ff'),
    numLayers,
    numDecoderLayers: optionalSize(raw, 'num_decoder_layers', numLayers),
    numHeads: requireSize(raw, 'num_heads'),
    relativeAttentionNumBuckets: numBuckets,
    relativeAttentionMaxDistance: maxDistance,
    layerNormEpsilon: optionalPositiveNumber(raw, 'layer_norm_epsilon', 1e-6),
    gated,
    activation,
    tieWordEmbeddings: optionalBoolean(raw, 'tie_word_embeddings', true),
    scaleDecoderOutputs: optionalBoolean(raw, 'scale_decoder_outputs', optionalBoolean(raw, 'tie_word_embeddings', true)),
    eosTokenIds: optionalTokenIds(raw, 'eos_token_id', vocabSize),
    padTokenId: pad.length > 0 ? pad[0] : null,
    decoderStartTokenId: decoderStart.length > 0 ? decoderStart[0] : pad.length > 0 ? pad[0] : 0,
    source: raw.source,
  };
}

/** What the checkpoint's tensors must show for this config (checked before any layer is allocated). */
export function t5WeightExpectations(raw: RawConfig): WeightExpectation[] {
  const config = parseT5Config(raw);
  const embeddings = ['shared.weight', 'encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'];
  const attention = 'encoder.block.0.layer.0.SelfAttention';
  const feedForward = `encoder.block.0.layer.1.DenseReluDense.${config.gated ? 'wi_0' : 'wi'}.weight`;
  return [
    { kind: 'layers', key: 'num_layers', value: config.numLayers, prefix: 'encoder.block.' },
    { kind: 'layers', key: 'num_decoder_layers', value: config.numDecoderLayers, prefix: 'decoder.block.' },
    { kind: 'dimension', key: 'vocab_size', value: config.vocabSize, tensors: embeddings, dim: 0 },
    { kind: 'dimension', key: 'd_model', value: config.dModel, tensors: embeddings, dim: 1 },
    { kind: 'dimension', key: 'num_heads', detail: `× d_kv ${config.dKv}`, value: config.numHeads * config.dKv, tensors: [`${attention}.q.weight`], dim: 0 },
    { kind: 'dimension', key: 'relative_attention_num_buckets', value: config.relativeAttentionNumBuckets, tensors: [`${attention}.relative_attention_bias.weight`], dim: 0 },
    { kind: 'dimension', key: 'num_heads', value: config.numHeads, tensors: [`${attention}.relative_attention_bias.weight`], dim: 1 },
    { kind: 'dimension', key: 'd_ff', value: config.dFf, tensors: [feedForward], dim: 0 },
  ];
}

/**
 * T5's relative position buckets for relative = key − query positions: half the buckets for each direction when
 * bidirectional, exact buckets for small distances and logarithmic ones up to `maxDistance`. Computed with float32
 * tensor ops, as transformers does, so bucket edges agree.
 */
export function relativePositionBuckets(relative: Tensor, bidirectional: boolean, numBuckets: number, maxDistance: number): Tensor {
  let buckets = zeros(relative.shape, { dtype: 'int64' });
  let distance: Tensor;
  let exactBuckets = numBuckets;
  if (bidirectional) {
    exactBuckets = Math.floor(numBuckets / 2);
    buckets = buckets.add(relative.gt(0).long().mul(exactBuckets));
    distance = relative.abs();
  } else {
    distance = relative.clamp(undefined, 0).neg();
  }
  const maxExact = Math.floor(exactBuckets / 2);
  const isSmall = distance.lt(maxExact);
  const logarithmic = distance
    .float()
    .div(maxExact)
    .log()
    .div(Math.log(maxDistance / maxExact))
    .mul(exactBuckets - maxExact)
    .long()
    .add(maxExact);
  const capped = logarithmic.minimum(fullLike(logarithmic, exactBuckets - 1, { dtype: 'int64' }));
  return buckets.add(where(isSmall, distance, capped));
}

class T5Attention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly relative_attention_bias: Embedding | null;

  constructor(
    private readonly config: T5Config,
    private readonly isDecoder: boolean,
    hasRelativeBias: boolean,
    options: LayerOptions,
  ) {
    super();
    const inner = config.numHeads * config.dKv;
    const noBias = { ...options, bias: false };
    this.q = this.registerModule('q', new Linear(config.dModel, inner, noBias));
    this.k = this.registerModule('k', new Linear(config.dModel, inner, noBias));
    this.v = this.registerModule('v', new Linear(config.dModel, inner, noBias));
    this.o = this.registerModule('o', new Linear(inner, config.dModel, noBias));
    this.relative_attention_bias = hasRelativeBias
      ? this.registerModule('relative_attention_bias', new Embedding(config.relativeAttentionNumBuckets, config.numHeads, options))
      : null;
  }

  /** Position bias [1, heads, queries, keys] for queries at pastLength… and keys at 0…keys-1. */
  positionBias(queries: number, keys: number, pastLength: number, dtype: Tensor['dtype']): Tensor {
    if (this.relative_attention_bias === null) return zeros([1, this.config.numHeads, queries, keys], { dtype });
    const queryPositions = arange(pastLength, pastLength + queries).unsqueeze(1);
    const keyPositions = arange(keys).unsqueeze(0);
    const buckets = relativePositionBuckets(
      keyPositions.sub(queryPositions),
      !this.isDecoder,
      this.config.relativeAttentionNumBuckets,
      this.config.relativeAttentionMaxDistance,
    );
    return this.relative_attention_bias.forward(buckets).permute([2, 0, 1]).unsqueeze(0);
  }

  private heads(x: Tensor): Tensor {
    const [batch, length] = x.shape;
    return x.view([batch, length, this.config.numHeads, this.config.dKv]).transpose(1, 2);
  }

  /**
   * Attention of `x` over itself (keys/values appended to the cache) or over `keyValueSource` (cross-attention,
   * keys/values computed once and cached). `bias` already includes the additive mask. No 1/√d scaling in T5.
   */
  forward(x: Tensor, bias: Tensor, options: { keyValueSource?: Tensor; cache?: KVCache; cacheKey: string }): Tensor {
    const [batch, length] = x.shape;
    const q = this.heads(this.q.forward(x));
    let k: Tensor;
    let v: Tensor;
    if (options.keyValueSource !== undefined) {
      const cached = options.cache?.get(options.cacheKey);
      if (cached !== undefined) ({ key: k, value: v } = cached);
      else {
        k = this.heads(this.k.forward(options.keyValueSource));
        v = this.heads(this.v.forward(options.keyValueSource));
        if (options.cache !== undefined) options.cache.setStatic(options.cacheKey, k, v);
      }
    } else {
      k = this.heads(this.k.forward(x));
      v = this.heads(this.v.forward(x));
      if (options.cache !== undefined) ({ key: k, value: v } = options.cache.append(options.cacheKey, k, v));
    }
    const attended = F.scaledDotProductAttention(q, k, v, { attentionMask: bias, scale: 1 });
    return this.o.forward(attended.transpose(1, 2).reshape([batch, length, this.config.numHeads * this.config.dKv]));
  }
}

class T5LayerSelfAttention extends Module {
  readonly SelfAttention: T5Attention;
  readonly layer_norm: HFRMSNorm;

  constructor(config: T5Config, isDecoder: boolean, hasRelativeBias: boolean, options: LayerOptions) {
    super();
    this.SelfAttention = this.registerModule('SelfAttention', new T5Attention(config, isDecoder, hasRelativeBias, options));
    this.layer_norm = this.registerModule('layer_norm', new HFRMSNorm(config.dModel, config.layerNormEpsilon, options));
  }
}

class T5LayerCrossAttention extends Module {
  readonly EncDecAttention: T5Attention;
  readonly layer_norm: HFRMSNorm;

  constructor(config: T5Config, options: LayerOptions) {
    super();
    this.EncDecAttention = this.registerModule('EncDecAttention', new T5Attention(config, true, false, options));
    this.layer_norm = this.registerModule('layer_norm', new HFRMSNorm(config.dModel, config.layerNormEpsilon, options));
  }
}

class T5DenseActDense extends Module {
  readonly wi: Linear | null = null;
  readonly wi_0: Linear | null = null;
  readonly wi_1: Linear | null = null;
  readonly wo: Linear;
  private readonly activation: Activation;

  constructor(config: T5Config, options: LayerOptions) {
    super();
    const noBias = { ...options, bias: false };
    if (config.gated) {
      this.wi_0 = this.registerModule('wi_0', new Linear(config.dModel, config.dFf, noBias));
      this.wi_1 = this.registerModule('wi_1', new Linear(config.dModel, config.dFf, noBias));
    } else {
      this.wi = this.registerModule('wi', new Linear(config.dModel, config.dFf, noBias));
    }
    this.wo = this.registerModule('wo', new Linear(config.dFf, config.dModel, noBias));
    this.activation = activationByName(config.activation, config.source);
  }

  forward(x: Tensor): Tensor {
    const hidden = this.wi !== null ? this.activation(this.wi.forward(x)) : this.activation((this.wi_0 as Linear).forward(x)).mul((this.wi_1 as Linear).forward(x));
    return this.wo.forward(hidden);
  }
}

class T5LayerFF extends Module {
  readonly DenseReluDense: T5DenseActDense;
  readonly layer_norm: HFRMSNorm;

  constructor(config: T5Config, options: LayerOptions) {
    super();
    this.DenseReluDense = this.registerModule('DenseReluDense', new T5DenseActDense(config, options));
    this.layer_norm = this.registerModule('layer_norm', new HFRMSNorm(config.dModel, config.layerNormEpsilon, options));
  }

  forward(x: Tensor): Tensor {
    return x.add(this.DenseReluDense.forward(this.layer_norm.forward(x)));
  }
}

class T5Block extends Module {
  readonly layer: ModuleList<Module>;
  readonly selfAttention: T5LayerSelfAttention;
  readonly crossAttention: T5LayerCrossAttention | null;
  readonly feedForward: T5LayerFF;

  constructor(config: T5Config, isDecoder: boolean, index: number, options: LayerOptions) {
    super();
    this.selfAttention = new T5LayerSelfAttention(config, isDecoder, index === 0, options);
    this.crossAttention = isDecoder ? new T5LayerCrossAttention(config, options) : null;
    this.feedForward = new T5LayerFF(config, options);
    const layers: Module[] = [this.selfAttention];
    if (this.crossAttention !== null) layers.push(this.crossAttention);
    layers.push(this.feedForward);
    this.layer = this.registerModule('layer', new ModuleList(layers));
  }
}

class T5Stack extends Module {
  readonly block: ModuleList<T5Block>;
  readonly final_layer_norm: HFRMSNorm;

  constructor(
    config: T5Config,
    readonly isDecoder: boolean,
    readonly embed_tokens: Embedding,
    options: LayerOptions,
  ) {
    super();
    this.registerModule('embed_tokens', embed_tokens);
    const count = isDecoder ? config.numDecoderLayers : config.numLayers;
    this.block = this.registerModule('block', new ModuleList(Array.from({ length: count }, (_, i) => new T5Block(config, isDecoder, i, options))));
    this.final_layer_norm = this.registerModule('final_layer_norm', new HFRMSNorm(config.dModel, config.layerNormEpsilon, options));
  }

  forward(embeds: Tensor, options: { mask?: Tensor | null; encoderHidden?: Tensor; encoderMask?: Tensor | null; cache?: KVCache }): Tensor {
    const [batch, length] = embeds.shape;
    const pastLength = options.cache?.length('self.0') ?? 0;
    const keys = pastLength + length;
    const first = this.block.at(0).selfAttention.SelfAttention;
    const selfMask = additiveMask({ keyMask: options.mask, batch, queries: length, keys, pastLength, causal: this.isDecoder, dtype: embeds.dtype });
    const selfBias = first.positionBias(length, keys, pastLength, embeds.dtype).add(selfMask);
    let crossBias: Tensor | null = null;
    if (this.isDecoder) {
      const encoderHidden = options.encoderHidden as Tensor;
      crossBias = additiveMask({ keyMask: options.encoderMask, batch, queries: length, keys: encoderHidden.shape[1], pastLength: 0, causal: false, dtype: embeds.dtype });
    }
    let x = embeds;
    this.block.forEach((block, i) => {
      const attention = block.selfAttention;
      x = x.add(attention.SelfAttention.forward(attention.layer_norm.forward(x), selfBias, { cache: options.cache, cacheKey: `self.${i}` }));
      if (block.crossAttention !== null) {
        const cross = block.crossAttention;
        x = x.add(
          cross.EncDecAttention.forward(cross.layer_norm.forward(x), crossBias as Tensor, {
            keyValueSource: options.encoderHidden,
            cache: options.cache,
            cacheKey: `cross.${i}`,
          }),
        );
      }
      x = block.feedForward.forward(x);
    });
    return this.final_layer_norm.forward(x);
  }
}

export class T5ForConditionalGeneration extends PretrainedModel implements Seq2SeqLM {
  readonly kind = 'seq2seq' as const;

  get contextLength(): number | null {
    return null;
  }
  readonly shared: Embedding;
  readonly encoder: T5Stack;
  readonly decoder: T5Stack;
  readonly lm_head: Linear;

  constructor(
    readonly config: T5Config,
    options: LayerOptions = {},
  ) {
    super();
    this.shared = this.registerModule('shared', new Embedding(config.vocabSize, config.dModel, options));
    this.encoder = this.registerModule('encoder', new T5Stack(config, false, this.shared, options));
    this.decoder = this.registerModule('decoder', new T5Stack(config, true, this.shared, options));
    this.lm_head = this.registerModule('lm_head', new Linear(config.dModel, config.vocabSize, { ...options, bias: false }));
    if (config.tieWordEmbeddings) {
      const head = this.lm_head.weight;
      this.lm_head.setParameter('weight', this.shared.weight);
      head.dispose();
    }
  }

  embedTokens(ids: Tensor): Tensor {
    return this.shared.forward(ids);
  }

  encode(inputIds: Tensor | null, options: EncoderOptions = {}): Tensor {
    const embeds = options.inputsEmbeds ?? this.embedTokens(inputIds as Tensor);
    return this.encoder.forward(embeds, { mask: options.attentionMask });
  }

  decode(decoderInputIds: Tensor, options: DecoderOptions): Tensor {
    let hidden = this.decoder.forward(this.embedTokens(decoderInputIds), {
      encoderHidden: options.encoderHidden,
      encoderMask: options.encoderMask,
      cache: options.cache,
    });
    if (options.lastOnly) hidden = hidden.narrow(1, hidden.shape[1] - 1, 1);
    // Classic tied T5 rescales the decoder output by d_model^-0.5 before the shared output projection.
    if (this.config.scaleDecoderOutputs) hidden = hidden.mul(this.config.dModel ** -0.5);
    return this.lm_head.forward(hidden);
  }

  forward(inputIds: Tensor | null, options: EncoderOptions & { decoderInputIds: Tensor }): Tensor {
    const encoderHidden = this.encode(inputIds, options);
    return this.decode(options.decoderInputIds, { encoderHidden, encoderMask: options.attentionMask });
  }

}
