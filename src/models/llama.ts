import { TunekitError } from '../errors.js';
import { ModuleList } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Embedding, type LayerOptions, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { arange } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';
import { activationByName, type Activation } from './activations.js';
import { decoderMask, packedSegments } from './attention.js';
import {
  fail,
  MAX_POSITIONS,
  optionalBoolean,
  optionalInteger,
  optionalObject,
  optionalPositiveNumber,
  optionalSize,
  optionalString,
  optionalTokenIds,
  type RawConfig,
  requireMultiple,
  requireSize,
} from './config.js';
import { KVCache } from './kv-cache.js';
import { HFRMSNorm } from './norms.js';
import { applyRotary, checkRopeConfig, inverseFrequencies, type RopeConfig, rotaryTables } from './rope.js';
import { CausalModel, type DecoderStages } from './base.js';
import type { CausalForwardOptions, CausalLM } from './types.js';
import type { WeightExpectation } from './weights-check.js';

/** Llama, Mistral, Qwen2 and every model of the same shape (RoPE, GQA, RMSNorm, gated MLP). */
export interface LlamaConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  rope: RopeConfig;
  hiddenAct: string;
  /** Bias on q/k/v projections (Qwen2 always; Llama with `attention_bias`). */
  qkvBias: boolean;
  /** Bias on the output projection (Llama's `attention_bias`; never in Qwen2). */
  outputBias: boolean;
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
  bosTokenIds: number[];
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Mistral's sliding-window attention span, or null for full attention. */
  slidingWindow: number | null;
}

export function parseLlamaConfig(raw: RawConfig): LlamaConfig {
  const modelType = optionalString(raw, 'model_type', 'llama');
  const vocabSize = requireSize(raw, 'vocab_size');
  const hiddenSize = requireSize(raw, 'hidden_size');
  const numHeads = requireSize(raw, 'num_attention_heads');
  const hasHeadDim = raw.values.head_dim !== undefined && raw.values.head_dim !== null;
  if (!hasHeadDim) requireMultiple(raw, 'hidden_size', hiddenSize, 'num_attention_heads', numHeads, 'when "head_dim" is not given');
  const headDim = optionalSize(raw, 'head_dim', Math.floor(hiddenSize / numHeads));
  const numKeyValueHeads = optionalSize(raw, 'num_key_value_heads', numHeads);
  requireMultiple(raw, 'num_attention_heads', numHeads, 'num_key_value_heads', numKeyValueHeads, '(each key/value head serves a whole group of query heads)');
  const ropeParameters = optionalObject(raw, 'rope_parameters');
  const theta = optionalPositiveNumber(raw, 'rope_theta', typeof ropeParameters?.rope_theta === 'number' ? ropeParameters.rope_theta : 10000);
  const scaling = optionalObject(raw, 'rope_scaling') ?? ropeParameters;
  const partialRotary = optionalPositiveNumber(raw, 'partial_rotary_factor', 1);
  if (partialRotary > 1) fail(raw, 'partial_rotary_factor', 'a number in (0, 1]');
  const rope: RopeConfig = { theta, dim: Math.floor(headDim * partialRotary), scaling, source: raw.source };
  checkRopeConfig(rope);
  const attentionBias = optionalBoolean(raw, 'attention_bias', modelType === 'qwen2');
  const pad = optionalTokenIds(raw, 'pad_token_id', vocabSize);
  if (modelType === 'qwen2' && optionalBoolean(raw, 'use_sliding_window', false)) {
    throw new TunekitError('E_CONFIG', `${raw.source}: "use_sliding_window": true (per-layer sliding windows in Qwen2) is not supported`);
  }
  const window = modelType === 'mistral' ? optionalInteger(raw, 'sliding_window', 0) : 0;
  const hiddenAct = optionalString(raw, 'hidden_act', 'silu');
  activationByName(hiddenAct, raw.source);
  return {
    modelType,
    slidingWindow: window > 0 ? window : null,
    vocabSize,
    hiddenSize,
    intermediateSize: requireSize(raw, 'intermediate_size'),
    numLayers: requireSize(raw, 'num_hidden_layers'),
    numHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: optionalPositiveNumber(raw, 'rms_norm_eps', 1e-6),
    rope,
    hiddenAct,
    qkvBias: attentionBias,
    outputBias: modelType === 'qwen2' ? false : attentionBias,
    mlpBias: optionalBoolean(raw, 'mlp_bias', false),
    tieWordEmbeddings: optionalBoolean(raw, 'tie_word_embeddings', false),
    maxPositionEmbeddings: optionalSize(raw, 'max_position_embeddings', 2048, MAX_POSITIONS),
    bosTokenIds: optionalTokenIds(raw, 'bos_token_id', vocabSize),
    eosTokenIds: optionalTokenIds(raw, 'eos_token_id', vocabSize),
    padTokenId: pad.length > 0 ? pad[0] : null,
  };
}

/** What the checkpoint's tensors must show for this config (checked before any layer is allocated). */
export function llamaWeightExpectations(raw: RawConfig): WeightExpectation[] {
  const config = parseLlamaConfig(raw);
  const layer = 'model.layers.0';
  return [
    { kind: 'layers', key: 'num_hidden_layers', value: config.numLayers, prefix: 'model.layers.' },
    { kind: 'dimension', key: 'vocab_size', value: config.vocabSize, tensors: ['model.embed_tokens.weight'], dim: 0 },
    { kind: 'dimension', key: 'hidden_size', value: config.hiddenSize, tensors: ['model.embed_tokens.weight'], dim: 1 },
    { kind: 'dimension', key: 'num_attention_heads', detail: `× head_dim ${config.headDim}`, value: config.numHeads * config.headDim, tensors: [`${layer}.self_attn.q_proj.weight`], dim: 0 },
    { kind: 'dimension', key: 'num_key_value_heads', detail: `× head_dim ${config.headDim}`, value: config.numKeyValueHeads * config.headDim, tensors: [`${layer}.self_attn.k_proj.weight`], dim: 0 },
    { kind: 'dimension', key: 'intermediate_size', value: config.intermediateSize, tensors: [`${layer}.mlp.gate_proj.weight`], dim: 0 },
  ];
}

class LlamaAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;

  constructor(
    private readonly config: LlamaConfig,
    options: LayerOptions,
  ) {
    super();
    const { hiddenSize, numHeads, numKeyValueHeads, headDim } = config;
    this.q_proj = this.registerModule('q_proj', new Linear(hiddenSize, numHeads * headDim, { ...options, bias: config.qkvBias }));
    this.k_proj = this.registerModule('k_proj', new Linear(hiddenSize, numKeyValueHeads * headDim, { ...options, bias: config.qkvBias }));
    this.v_proj = this.registerModule('v_proj', new Linear(hiddenSize, numKeyValueHeads * headDim, { ...options, bias: config.qkvBias }));
    this.o_proj = this.registerModule('o_proj', new Linear(numHeads * headDim, hiddenSize, { ...options, bias: config.outputBias }));
  }

  forward(x: Tensor, rotary: { cos: Tensor; sin: Tensor }, mask: Tensor | null, cache: KVCache | undefined, layer: string): Tensor {
    const [batch, length] = x.shape;
    const { numHeads, numKeyValueHeads, headDim } = this.config;
    let q = this.q_proj.forward(x).view([batch, length, numHeads, headDim]).transpose(1, 2);
    let k = this.k_proj.forward(x).view([batch, length, numKeyValueHeads, headDim]).transpose(1, 2);
    let v = this.v_proj.forward(x).view([batch, length, numKeyValueHeads, headDim]).transpose(1, 2);
    q = applyRotary(q, rotary.cos, rotary.sin);
    k = applyRotary(k, rotary.cos, rotary.sin);
    if (cache !== undefined) ({ key: k, value: v } = cache.append(layer, k, v));
    const attended = F.scaledDotProductAttention(q, k, v, {
      attentionMask: mask,
      isCausal: mask === null && length > 1,
      scale: 1 / Math.sqrt(headDim),
      enableGqa: numHeads !== numKeyValueHeads,
    });
    return this.o_proj.forward(attended.transpose(1, 2).reshape([batch, length, numHeads * headDim]));
  }
}

class LlamaMLP extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;
  private readonly activation: Activation;

  constructor(config: LlamaConfig, options: LayerOptions) {
    super();
    const bias = { ...options, bias: config.mlpBias };
    this.gate_proj = this.registerModule('gate_proj', new Linear(config.hiddenSize, config.intermediateSize, bias));
    this.up_proj = this.registerModule('up_proj', new Linear(config.hiddenSize, config.intermediateSize, bias));
    this.down_proj = this.registerModule('down_proj', new Linear(config.intermediateSize, config.hiddenSize, bias));
    this.activation = activationByName(config.hiddenAct, config.rope.source);
  }

  forward(x: Tensor): Tensor {
    return this.down_proj.forward(this.activation(this.gate_proj.forward(x)).mul(this.up_proj.forward(x)));
  }
}

class LlamaDecoderLayer extends Module {
  readonly self_attn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly input_layernorm: HFRMSNorm;
  readonly post_attention_layernorm: HFRMSNorm;

  constructor(config: LlamaConfig, options: LayerOptions) {
    super();
    this.self_attn = this.registerModule('self_attn', new LlamaAttention(config, options));
    this.mlp = this.registerModule('mlp', new LlamaMLP(config, options));
    this.input_layernorm = this.registerModule('input_layernorm', new HFRMSNorm(config.hiddenSize, config.rmsNormEps, options));
    this.post_attention_layernorm = this.registerModule('post_attention_layernorm', new HFRMSNorm(config.hiddenSize, config.rmsNormEps, options));
  }

  forward(x: Tensor, rotary: { cos: Tensor; sin: Tensor }, mask: Tensor | null, cache: KVCache | undefined, layer: string): Tensor {
    const h = x.add(this.self_attn.forward(this.input_layernorm.forward(x), rotary, mask, cache, layer));
    return h.add(this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

class LlamaModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: HFRMSNorm;

  constructor(config: LlamaConfig, options: LayerOptions) {
    super();
    this.embed_tokens = this.registerModule('embed_tokens', new Embedding(config.vocabSize, config.hiddenSize, options));
    this.layers = this.registerModule('layers', new ModuleList(Array.from({ length: config.numLayers }, () => new LlamaDecoderLayer(config, options))));
    this.norm = this.registerModule('norm', new HFRMSNorm(config.hiddenSize, config.rmsNormEps, options));
  }
}

export class LlamaForCausalLM extends CausalModel implements CausalLM {
  readonly kind = 'causal' as const;

  get contextLength(): number | null {
    return this.config.maxPositionEmbeddings;
  }
  readonly model: LlamaModel;
  readonly lm_head: Linear;
  readonly #inverseFrequencies: Tensor;

  constructor(
    readonly config: LlamaConfig,
    options: LayerOptions = {},
  ) {
    super();
    this.model = this.registerModule('model', new LlamaModel(config, options));
    this.lm_head = this.registerModule('lm_head', new Linear(config.hiddenSize, config.vocabSize, { ...options, bias: false }));
    if (config.tieWordEmbeddings) this.tieWeights();
    // transformers keeps RoPE frequencies in float32 whatever the model dtype.
    this.#inverseFrequencies = this.registerBuffer('inv_freq', inverseFrequencies(config.rope), false, { keepDtype: true });
  }

  /** Shares the output head with the token embedding (`tie_word_embeddings`). */
  tieWeights(): void {
    const head = this.lm_head.weight;
    this.lm_head.setParameter('weight', this.model.embed_tokens.weight);
    if (head !== this.model.embed_tokens.weight) head.dispose();
  }

  get eosTokenIds(): number[] {
    return this.config.eosTokenIds;
  }

  embedTokens(ids: Tensor): Tensor {
    return this.model.embed_tokens.forward(ids);
  }

  /** The forward as stages: input embeddings, each decoder layer, the final norm (hiddenStates runs them in order). */
  decoderStages(inputIds: Tensor | null, options: CausalForwardOptions = {}): DecoderStages {
    const [batch, length] = (options.inputsEmbeds ?? (inputIds as Tensor)).shape;
    const dtype = options.inputsEmbeds?.dtype ?? this.model.embed_tokens.weight.dtype;
    const pastLength = options.cache?.length() ?? 0;
    const positionIds = options.positionIds ?? arange(pastLength, pastLength + length).unsqueeze(0);
    const rotary = rotaryTables(this.#inverseFrequencies, positionIds);
    const segments = packedSegments(options, batch);
    const mask = decoderMask({ attentionMask: options.attentionMask, batch, length, pastLength, slidingWindow: this.config.slidingWindow, segments, dtype });
    return {
      layerCount: this.model.layers.length,
      embed: () => options.inputsEmbeds ?? this.embedTokens(inputIds as Tensor),
      layer: (index, x) => this.model.layers.at(index).forward(x, rotary, mask, options.cache, String(index)),
      finish: (x) => this.model.norm.forward(x),
    };
  }

}
